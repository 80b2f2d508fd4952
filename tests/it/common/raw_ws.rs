//! A WebSocket client with no manners: it never answers a ping, and it can
//! send frames a polite library would refuse to (a header announcing 60 MB,
//! half a message). For the tests where the client's misbehaviour is the
//! scenario: silence, oversized messages, messages before `connection_init`.

use std::net::SocketAddr;

use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{within, PATIENCE};

/// WebSocket opcodes.
pub const TEXT: u8 = 0x1;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;

/// One raw connection to `/ws`.
pub struct RawSocket {
    tcp: TcpStream,
    buffer: Vec<u8>,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The close code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

impl RawSocket {
    /// Upgrades a fresh TCP connection with `subprotocol` and extra header
    /// lines (each `Name: value`); returns the socket, or the HTTP status
    /// line when the server did not switch protocols.
    pub async fn connect(
        addr: SocketAddr,
        subprotocol: &str,
        headers: &[&str],
    ) -> Result<Self, String> {
        let mut tcp = within(PATIENCE, "a TCP connection", TcpStream::connect(addr))
            .await
            .expect("connect");
        let mut request = format!(
            "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: {subprotocol}\r\n"
        );
        for header in headers {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        tcp.write_all(request.as_bytes()).await.expect("handshake");
        let mut buffer = Vec::new();
        let head_end = within(PATIENCE, "the handshake response", async {
            loop {
                if let Some(end) = find(&buffer, b"\r\n\r\n") {
                    return end + 4;
                }
                let mut chunk = [0u8; 1024];
                let n = tcp.read(&mut chunk).await.expect("read handshake");
                if n == 0 {
                    return 0;
                }
                buffer.extend_from_slice(&chunk[..n]);
            }
        })
        .await;
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        let status = head.lines().next().unwrap_or_default().to_owned();
        if !status.contains(" 101 ") {
            return Err(head);
        }
        buffer.drain(..head_end);
        Ok(Self { tcp, buffer })
    }

    /// Upgrades with `graphql-transport-ws` and sends `connection_init`
    /// (with `payload`, if any); fails the test if either fails.
    pub async fn initialised(addr: SocketAddr, payload: Option<Value>) -> Self {
        let mut socket = Self::connect(addr, "graphql-transport-ws", &[])
            .await
            .unwrap_or_else(|head| panic!("upgrade refused: {head}"));
        let mut init = json!({"type": "connection_init"});
        if let Some(payload) = payload {
            init["payload"] = payload;
        }
        socket.send_text(&init.to_string()).await.expect("init");
        socket
    }

    /// Sends one masked frame with FIN set.
    pub async fn send_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut frame = header(opcode, payload.len() as u64, true);
        let mask = [0x12, 0x34, 0x56, 0x78];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.tcp.write_all(&frame).await
    }

    /// Sends a text frame.
    pub async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.send_frame(TEXT, text.as_bytes()).await
    }

    /// Sends one fragment of a text message: the first carries the text
    /// opcode, the rest are continuations; `fin` on the last.
    pub async fn send_fragment(
        &mut self,
        first: bool,
        fin: bool,
        payload: &[u8],
    ) -> std::io::Result<()> {
        let mut frame = header(if first { TEXT } else { 0x0 }, payload.len() as u64, true);
        if !fin {
            frame[0] &= 0x7f;
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        self.tcp.write_all(&frame).await
    }

    /// Sends only the header of a masked text frame announcing `len` bytes,
    /// then `body` (a prefix of what was announced).
    pub async fn send_announcing(&mut self, len: u64, body: &[u8]) -> std::io::Result<()> {
        let mut frame = header(TEXT, len, true);
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(body);
        self.tcp.write_all(&frame).await
    }

    /// Writes raw bytes (for messages sent in pieces).
    pub async fn write_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.tcp.write_all(bytes).await
    }

    /// The next frame from the server (pings included: nothing is answered);
    /// `None` once the connection is closed.
    pub async fn next_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, used)) = parse(&self.buffer) {
                self.buffer.drain(..used);
                return Some(frame);
            }
            let mut chunk = vec![0u8; 64 * 1024];
            match self.tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads frames until a close frame (returning its code, `None` for a
    /// close without one) or the end of the connection (`Err` with what came).
    pub async fn closed(&mut self) -> Result<Option<u16>, Vec<Frame>> {
        let mut seen = Vec::new();
        within(PATIENCE, "the server to close the socket", async {
            loop {
                match self.next_frame().await {
                    Some(frame) if frame.opcode == CLOSE => return Ok(frame.close_code()),
                    Some(frame) => seen.push(frame),
                    None => return Err(seen),
                }
            }
        })
        .await
    }

    /// Whether the server ended the TCP connection (reads hit EOF) within
    /// `limit`, ignoring any frames on the way.
    pub async fn eof_within(&mut self, limit: std::time::Duration) -> bool {
        tokio::time::timeout(limit, async { while self.next_frame().await.is_some() {} })
            .await
            .is_ok()
    }
}

fn header(opcode: u8, len: u64, masked: bool) -> Vec<u8> {
    let mut frame = vec![0x80 | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    if len < 126 {
        frame.push(mask_bit | len as u8);
    } else if len <= u64::from(u16::MAX) {
        frame.push(mask_bit | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(mask_bit | 127);
        frame.extend_from_slice(&len.to_be_bytes());
    }
    frame
}

/// One unmasked server frame from the front of `buf`, and how many bytes it took.
fn parse(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    if buf[1] & 0x80 != 0 {
        at += 4;
    }
    let end = at + usize::try_from(len).ok()?;
    let payload = buf.get(at..end)?.to_vec();
    Some((Frame { opcode, payload }, end))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
