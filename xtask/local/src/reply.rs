//! What the router answers itself, without an upstream.

/// An answer the router gives itself: status, headers, body.
pub type Reply = (u16, Vec<(&'static str, String)>, Vec<u8>);
