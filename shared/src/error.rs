//! The error codes a node answers with, in `error` frames and HTTP bodies.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or no known `type`.
    BadFrame,
    /// Something other than `hello` came first.
    NoHello,
    /// `hello.v` names a version this node does not speak.
    UnsupportedVersion,
    /// A field breaks one of the protocol's rules.
    Invalid,
    /// `send`, `typing` or `leave` for a room the connection has not joined.
    NotJoined,
    /// The connection sent more than its rate allows.
    RateLimited,
    /// The node cannot serve this now (overloaded or stopping); try again.
    Unavailable,
    /// Extension: a limit of the node was reached (connections, rooms,
    /// long polls per address…); the message says which.
    LimitReached,
    /// Protocol 1.1: the name belongs to an account, or looks like a name
    /// already in the room.
    NameTaken,
    /// Protocol 1.1: no valid session (missing, expired, unknown or revoked token).
    Unauthorized,
    /// Protocol 1.1: wrong name or password (the same answer for both).
    BadCredentials,
    /// Protocol 1.1: this node does not take new accounts (or not without an invite).
    RegistrationClosed,
    /// Extension: signed in, but not allowed (an admin's action).
    Forbidden,
    /// Extension: no such room (or one the asker may not know of).
    NotFound,
    /// Extension: the password was right; sign-in needs the code of the
    /// account's authenticator app (or a recovery code), or that code was wrong.
    CodeRequired,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 15] = [
        ErrorCode::BadFrame,
        ErrorCode::NoHello,
        ErrorCode::UnsupportedVersion,
        ErrorCode::Invalid,
        ErrorCode::NotJoined,
        ErrorCode::RateLimited,
        ErrorCode::Unavailable,
        ErrorCode::LimitReached,
        ErrorCode::NameTaken,
        ErrorCode::Unauthorized,
        ErrorCode::BadCredentials,
        ErrorCode::RegistrationClosed,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::CodeRequired,
    ];

    /// The wire name, as in `{"code":"bad_frame"}`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "bad_frame",
            ErrorCode::NoHello => "no_hello",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotJoined => "not_joined",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::NameTaken => "name_taken",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::BadCredentials => "bad_credentials",
            ErrorCode::RegistrationClosed => "registration_closed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::CodeRequired => "code_required",
        }
    }

    /// The HTTP status a refused request gets.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::RateLimited | ErrorCode::LimitReached => 429,
            ErrorCode::Unavailable => 503,
            ErrorCode::NameTaken => 409,
            ErrorCode::Unauthorized | ErrorCode::BadCredentials | ErrorCode::CodeRequired => 401,
            ErrorCode::RegistrationClosed | ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::NotJoined => 409,
            _ => 400,
        }
    }

    /// Words for people, used by clients that show the error.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorCode::BadFrame => "The server could not read that request.",
            ErrorCode::NoHello => "Not signed in yet.",
            ErrorCode::UnsupportedVersion => "This app is too old or too new for the server.",
            ErrorCode::Invalid => "That was not accepted.",
            ErrorCode::NotJoined => "You are not in that room.",
            ErrorCode::RateLimited => "Slow down: too many messages at once.",
            ErrorCode::Unavailable => "The server is busy; trying again.",
            ErrorCode::LimitReached => "The server's limit for that was reached.",
            ErrorCode::NameTaken => "That name is taken.",
            ErrorCode::Unauthorized => "Please sign in again.",
            ErrorCode::BadCredentials => "Wrong name or password.",
            ErrorCode::RegistrationClosed => "This server does not take new accounts.",
            ErrorCode::Forbidden => "You are not allowed to do that.",
            ErrorCode::NotFound => "There is no such room.",
            ErrorCode::CodeRequired => "Enter the code from your authenticator app.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_match_serde() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
        }
    }
}
