//! What a resolver reads from the request it runs in: who sent it and the
//! dispatcher to call.

use async_graphql::Context;

use crate::{auth::Caller, dispatch::Dispatcher};

/// Who sent the request being resolved (the transport puts it there);
/// a request without one is anonymous.
pub(super) fn caller<'c>(ctx: &Context<'c>) -> &'c Caller {
    ctx.data_opt::<Caller>().unwrap_or(&Caller::Anonymous)
}

pub(super) fn dispatcher<'c>(ctx: &Context<'c>) -> async_graphql::Result<&'c Dispatcher> {
    ctx.data::<Dispatcher>()
}
