//! The address the service serves on: bound as soon as the service starts
//! (a port already taken fails at once), listened on only when everything
//! is ready, so the kernel accepts no connection that nothing would serve
//! while an areas file is checked, Redis is reached or keys are fetched.
//! Tests hand over a listener of their own instead.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

use super::error::StartError;

/// Connections the kernel queues before they are accepted; tokio's default
/// of 128 is too small for bursts of thousands of subscribers.
const LISTEN_BACKLOG: u32 = 4096;

/// Where the service will listen: an address bound but not listened on
/// yet, or a listener the caller gave.
pub(crate) enum Endpoint {
    Bound(TcpSocket),
    Listening(TcpListener),
}

impl Endpoint {
    pub(crate) fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self {
            Self::Bound(socket) => socket.local_addr(),
            Self::Listening(listener) => listener.local_addr(),
        }
    }

    /// Listens, with a deep accept backlog.
    pub(crate) fn listen(self) -> std::io::Result<TcpListener> {
        match self {
            Self::Bound(socket) => socket.listen(LISTEN_BACKLOG),
            Self::Listening(listener) => Ok(listener),
        }
    }
}

/// Binds the address, without listening yet.
pub(crate) fn bind(addr: SocketAddr) -> Result<TcpSocket, StartError> {
    let listen_err = |source| StartError::Listen { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(listen_err)?;
    socket.set_reuseaddr(true).map_err(listen_err)?;
    socket.bind(addr).map_err(listen_err)?;
    Ok(socket)
}
