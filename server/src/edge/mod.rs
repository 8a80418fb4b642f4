//! Where clients meet the node: the HTTP router and its routes, one
//! WebSocket session per connection, a connection as rooms see it, what one
//! address may spend, and the requests made on a person's behalf (one
//! function per rule, for the WebSocket and HTTP alike).

pub mod conn;
pub mod govern;
pub mod guard;
pub mod http;
pub mod session;
