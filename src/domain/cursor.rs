//! Keyset-pagination cursors: where a page ended, sealed so that a client can hand it back but
//! neither forge nor alter it, and bound to the user and the list it was issued for.
//!
//! A cursor carries the last row's sort value and id (the next page starts strictly after that
//! pair, so a page costs the same at any depth), a [`Binding`] (a digest of the user id and of
//! every parameter of the list but the page size), and an HMAC-SHA256 tag under the
//! database's cursor key (migration 0010), so every replica sharing the database accepts the
//! cursors of every other, across restarts. The store binds every statement to the caller's
//! user id anyway; the binding and the tag are what make a foreign, stale or edited cursor a
//! clear 422 instead of a page of something else.

use ct_codecs::{Base64UrlSafeNoPadding, Decoder, Encoder};

const VERSION: u8 = 1;
const BINDING_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
/// The longest cursor text accepted: a 200-character title of 4-byte characters seals into
/// about 1,130 characters.
pub const MAX_CURSOR_CHARS: usize = 1200;

/// The key cursors are sealed with: 32 random bytes the database holds.
#[derive(Clone, PartialEq, Eq)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self(bytes.try_into().ok()?))
    }

    fn tag(&self, message: &[u8]) -> [u8; TAG_BYTES] {
        let full = hmac_sha256::HMAC::mac(message, self.0);
        let mut tag = [0; TAG_BYTES];
        tag.copy_from_slice(&full[..TAG_BYTES]);
        tag
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(…)")
    }
}

/// A row's value of the list's sort key: a time, a priority rank or a relevance score
/// (integers), a title (text), or a missing due date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortValue {
    Integer(i64),
    Text(String),
    Null,
}

/// Where a page ended: the last row's sort value and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub value: SortValue,
    pub id: i64,
}

/// What a cursor is valid for: one user's list with one set of filters, one sort and one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binding([u8; BINDING_BYTES]);

impl Binding {
    /// The binding of a list described by `canonical` (see `ListQuery::binding`): its first
    /// 16 bytes of SHA-256.
    pub fn digest(canonical: &str) -> Self {
        let digest = hmac_sha256::Hash::hash(canonical.as_bytes());
        let mut binding = [0; BINDING_BYTES];
        binding.copy_from_slice(&digest[..BINDING_BYTES]);
        Self(binding)
    }
}

/// The type of value a list's sort key has, so that a cursor of another sort is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Integer,
    Text,
    /// A due date, or none.
    IntegerOrNull,
}

/// Seals `position` for the list `binding` names.
pub fn seal(position: &Position, binding: &Binding, key: &CursorKey) -> String {
    let mut bytes = vec![VERSION];
    bytes.extend_from_slice(&binding.0);
    match &position.value {
        SortValue::Null => bytes.push(0),
        SortValue::Integer(n) => {
            bytes.push(1);
            bytes.extend_from_slice(&n.to_be_bytes());
        }
        SortValue::Text(text) => {
            bytes.push(2);
            // Titles are at most 200 characters, so at most 800 bytes.
            let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
            bytes.extend_from_slice(&len.to_be_bytes());
            bytes.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
        }
    }
    bytes.extend_from_slice(&position.id.to_be_bytes());
    let tag = key.tag(&bytes);
    bytes.extend_from_slice(&tag);
    Base64UrlSafeNoPadding::encode_to_string(&bytes).unwrap_or_default()
}

/// A cursor as a client handed it back: well formed, but not yet known to be genuine or meant
/// for this list. [`Cursor::position_for`] checks the binding before the page is read;
/// [`Cursor::is_sealed_by`] checks the tag once the key is at hand (it comes back with the
/// page's own statement, so a page by cursor costs no extra round trip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    sealed: Vec<u8>,
    binding: Binding,
    position: Position,
    tag: [u8; TAG_BYTES],
}

impl Cursor {
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        const MALFORMED: &str = "is not a cursor this API issued";
        if text.is_empty() || text.len() > MAX_CURSOR_CHARS {
            return Err(MALFORMED);
        }
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(text, None).map_err(|_| MALFORMED)?;
        let mut reader = Reader(&bytes);
        if reader.take(1) != Some(&[VERSION][..]) {
            return Err(MALFORMED);
        }
        let binding = Binding(reader.array().ok_or(MALFORMED)?);
        let value = match reader.take(1).ok_or(MALFORMED)?[0] {
            0 => SortValue::Null,
            1 => SortValue::Integer(i64::from_be_bytes(reader.array().ok_or(MALFORMED)?)),
            2 => {
                let len = u16::from_be_bytes(reader.array().ok_or(MALFORMED)?);
                let text = reader.take(usize::from(len)).ok_or(MALFORMED)?;
                SortValue::Text(String::from_utf8(text.to_vec()).map_err(|_| MALFORMED)?)
            }
            _ => return Err(MALFORMED),
        };
        let id = i64::from_be_bytes(reader.array().ok_or(MALFORMED)?);
        let sealed_len = bytes.len() - reader.0.len();
        let tag: [u8; TAG_BYTES] = reader.array().ok_or(MALFORMED)?;
        if !reader.0.is_empty() {
            return Err(MALFORMED);
        }
        Ok(Self {
            sealed: bytes[..sealed_len].to_vec(),
            binding,
            position: Position { value, id },
            tag,
        })
    }

    /// The position, if the cursor was issued for the list `binding` names and its value is of
    /// the `kind` the list's sort key has; the message says what is wrong otherwise.
    pub fn position_for(
        &self,
        binding: &Binding,
        kind: ValueKind,
    ) -> Result<&Position, &'static str> {
        if self.binding != *binding {
            return Err(
                "was issued for another list (other user, filters, sort or order): \
                        start again without a cursor",
            );
        }
        let fits = matches!(
            (&self.position.value, kind),
            (SortValue::Text(_), ValueKind::Text)
                | (
                    SortValue::Integer(_),
                    ValueKind::Integer | ValueKind::IntegerOrNull
                )
                | (SortValue::Null, ValueKind::IntegerOrNull)
        );
        if fits {
            Ok(&self.position)
        } else {
            Err("is not a cursor this API issued")
        }
    }

    /// The position as the client claims it, for the store to build the page's statement
    /// before the key is at hand. Only after [`Self::position_for`] and with
    /// [`Self::is_sealed_by`] checked on the answer is the page the client's to see.
    pub fn claimed_position(&self) -> &Position {
        &self.position
    }

    /// Whether the tag is this key's: in constant time.
    pub fn is_sealed_by(&self, key: &CursorKey) -> bool {
        let expected = key.tag(&self.sealed);
        expected
            .iter()
            .zip(self.tag.iter())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::list_query::{ListQuery, SortKey};

    fn key(byte: u8) -> CursorKey {
        CursorKey([byte; 32])
    }

    fn query(text: &str) -> ListQuery {
        ListQuery::parse(text).unwrap()
    }

    fn positions() -> Vec<Position> {
        vec![
            Position {
                value: SortValue::Integer(-5),
                id: 7,
            },
            Position {
                value: SortValue::Integer(i64::MAX),
                id: i64::MAX,
            },
            Position {
                value: SortValue::Text("Ünïcode \"title\" ✓".into()),
                id: 1,
            },
            Position {
                value: SortValue::Text(String::new()),
                id: 2,
            },
            Position {
                value: SortValue::Null,
                id: 3,
            },
        ]
    }

    #[test]
    fn a_sealed_cursor_opens_for_its_list_and_key() {
        let binding = query("sort=due").binding("alice");
        for position in positions() {
            let text = seal(&position, &binding, &key(1));
            assert!(text.len() < MAX_CURSOR_CHARS);
            assert!(
                text.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            let cursor = Cursor::parse(&text).unwrap();
            assert!(cursor.is_sealed_by(&key(1)));
            assert!(!cursor.is_sealed_by(&key(2)));
            let sort = match position.value {
                SortValue::Text(_) => SortKey::Title,
                _ => SortKey::Due,
            };
            assert_eq!(
                cursor.position_for(&binding, sort.value_kind()),
                Ok(&position)
            );
        }
    }

    #[test]
    fn the_longest_title_fits() {
        let title = "𝄞".repeat(200);
        let position = Position {
            value: SortValue::Text(title.clone()),
            id: i64::MAX,
        };
        let text = seal(&position, &query("").binding("u"), &key(0));
        assert!(text.len() <= MAX_CURSOR_CHARS, "{}", text.len());
        let cursor = Cursor::parse(&text).unwrap();
        assert_eq!(cursor.position.value, SortValue::Text(title));
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let binding = query("").binding("alice");
        let position = Position {
            value: SortValue::Integer(1_700_000_000_000_000),
            id: 42,
        };
        let text = seal(&position, &binding, &key(9));
        let bytes = Base64UrlSafeNoPadding::decode_to_vec(&text, None).unwrap();
        for i in 0..bytes.len() {
            for flip in [1u8, 0x80] {
                let mut changed = bytes.clone();
                changed[i] ^= flip;
                let changed = Base64UrlSafeNoPadding::encode_to_string(&changed).unwrap();
                let accepted = Cursor::parse(&changed).is_ok_and(|cursor| {
                    cursor.is_sealed_by(&key(9))
                        && cursor
                            .position_for(&binding, SortKey::Created.value_kind())
                            .is_ok()
                });
                assert!(!accepted, "byte {i} ^ {flip:#x} was accepted");
            }
        }
        // Cut short or extended.
        for cut in 0..bytes.len() {
            let short = Base64UrlSafeNoPadding::encode_to_string(&bytes[..cut]).unwrap();
            assert!(Cursor::parse(&short).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        long.push(0);
        let long = Base64UrlSafeNoPadding::encode_to_string(&long).unwrap();
        assert!(Cursor::parse(&long).is_err());
    }

    #[test]
    fn garbage_is_refused_without_panicking() {
        for text in [
            "",
            "=",
            "%%%",
            "AAAA",
            "not a cursor",
            &"A".repeat(5000),
            "AQ",
        ] {
            assert!(Cursor::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_binding_covers_user_filters_sort_and_order_but_not_the_page_size() {
        let base = query("status=pending&tag=a&tag=b").binding("alice");
        assert_eq!(
            base,
            query("tag=B&limit=5&status=pending&tag=a&offset=0").binding("alice")
        );
        for other in [
            "status=completed&tag=a&tag=b",
            "status=pending&tag=a",
            "status=pending&tag=a&tag=b&priority=high",
            "status=pending&tag=a&tag=b&sort=updated",
            "status=pending&tag=a&tag=b&order=asc",
            "status=pending&tag=a&tag=b&q=milk",
            "status=pending&tag=a&tag=b&overdue=false",
            "status=pending&tag=a&tag=b&due_before=2030-01-01T00:00:00Z",
            "status=pending&tag=a&tag=b&due_after=2030-01-01T00:00:00Z",
        ] {
            assert_ne!(base, query(other).binding("alice"), "{other}");
        }
        assert_ne!(base, query("status=pending&tag=a&tag=b").binding("bob"));
    }

    #[test]
    fn a_cursor_of_another_list_or_type_is_refused() {
        let mine = query("").binding("alice");
        let theirs = query("").binding("bob");
        let text = seal(
            &Position {
                value: SortValue::Integer(1),
                id: 1,
            },
            &mine,
            &key(3),
        );
        let cursor = Cursor::parse(&text).unwrap();
        assert!(
            cursor
                .position_for(&theirs, SortKey::Created.value_kind())
                .is_err()
        );
        assert!(
            cursor
                .position_for(&mine, SortKey::Title.value_kind())
                .is_err()
        );
    }
}
