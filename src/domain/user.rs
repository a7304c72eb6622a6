//! Users: who a URL names, who a verified token speaks for, and where users are known from.

use crate::time::Timestamp;

/// The longest user id, in characters (Better Auth's are 32).
pub const MAX_USER_ID_CHARS: usize = 255;
/// Longest path segment looked at: a longest user id with every character percent-encoded
/// from four UTF-8 bytes. Longer ones cannot be a user id.
pub const MAX_SEGMENT_BYTES: usize = MAX_USER_ID_CHARS * 12;

/// The `{user_id}` of a URL, percent-decoded. It only ever gets compared with a verified token's
/// subject; it never reaches SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathUserId(String);

impl PathUserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Percent-decodes one segment; `None` if empty, longer than [`MAX_USER_ID_CHARS`], not
    /// UTF-8 or holding control characters (no token subject we accept has them).
    pub fn from_segment(segment: &str) -> Option<Self> {
        if segment.is_empty() || segment.len() > MAX_SEGMENT_BYTES {
            return None;
        }
        let bytes = segment.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        let decoded = String::from_utf8(out).ok()?;
        if decoded.chars().any(char::is_control) || decoded.chars().count() > MAX_USER_ID_CHARS {
            return None;
        }
        Some(Self(decoded))
    }
}

/// Which users exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSource {
    /// The first valid token of a user records it in our `users` table.
    Auto,
    /// The user must exist in Better Auth's own `user` table (a database shared with it).
    BetterAuth,
}

/// A verified token's identity. Only the verifier makes one (`Identity::verified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// The token's `exp`: what the token allows ends then (an event stream, for one).
    expires_at: Timestamp,
}

impl Identity {
    /// What a token that passed verification says about its user.
    pub(crate) fn verified(
        subject: String,
        email: Option<String>,
        name: Option<String>,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            subject,
            email,
            name,
            expires_at,
        }
    }

    #[doc(hidden)]
    pub fn for_tests(subject: &str) -> Self {
        Self::verified(
            subject.to_owned(),
            None,
            None,
            Timestamp::from_micros(i64::MAX),
        )
    }

    #[doc(hidden)]
    pub fn for_tests_expiring(subject: &str, expires_at: Timestamp) -> Self {
        Self::verified(subject.to_owned(), None, None, expires_at)
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The URL's user must be the token's user; `None` otherwise (a 403). This is the only
    /// way to obtain an [`AuthenticatedUser`], the type every task query takes, so a query
    /// cannot be bound to the URL's id by mistake.
    pub fn authorize(&self, owner: &PathUserId) -> Option<AuthenticatedUser> {
        (owner.as_str() == self.subject).then(|| AuthenticatedUser(self.subject.clone()))
    }
}

/// The id of the user a verified token speaks for, and whose URL it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(String);

impl AuthenticatedUser {
    pub fn id(&self) -> &str {
        &self.0
    }

    /// For tests and benchmarks that drive the store directly.
    #[doc(hidden)]
    pub fn for_tests(id: &str) -> Self {
        Self(id.to_owned())
    }
}
