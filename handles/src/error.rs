//! Typed failures. Every failed call changes nothing.

use crate::slot::{END_RELEASED, END_REVOKED, END_TAKEN};
use core::fmt;

/// Why an operation on a handle failed. A failed operation never changes the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The handle was 0 / NULL ("no handle").
    Null,
    /// The handle was never issued by this table: a slot that does not exist, or a generation
    /// the slot has not reached. Usually a forged or corrupted value.
    Invalid,
    /// The handle was issued, but its entry has ended: released to zero, revoked, or taken.
    /// [`HandleTable::diagnose`](crate::HandleTable::diagnose) says which.
    Stale,
    /// The handle was issued by another table (its tag does not match this table's).
    WrongTable,
    /// The entry is in use in a way that forbids the operation: `take` while other references
    /// or scoped borrows exist (including a lookup, retain or release that runs while the
    /// take decides), or while another `take` of the same entry is deciding. Only `take`
    /// reports it: no other operation ever fails because a take is in flight.
    Busy,
    /// Capacity exhausted: no slot left for an insert, a reference count at its maximum, or,
    /// on a table's first insert, no table tag free (every one of the 1,022 tags is held by a
    /// live table, or its generations were spent by earlier tables; see `ARCHITECTURE.md`).
    Full,
}

impl Error {
    /// A short, stable, lower-case name (`"stale"`, `"wrong table"`, ...).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Error::Null => "null handle",
            Error::Invalid => "invalid handle",
            Error::Stale => "stale handle",
            Error::WrongTable => "handle from another table",
            Error::Busy => "entry busy",
            Error::Full => "capacity exhausted",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Error {}

/// The error of [`HandleTable::try_insert`](crate::HandleTable::try_insert): it gives the value
/// back, so nothing is lost.
pub struct InsertError<T> {
    /// The value that could not be inserted.
    pub value: T,
    /// Why ([`Error::Full`]).
    pub error: Error,
}

impl<T> InsertError<T> {
    /// Returns the value that could not be inserted.
    #[must_use]
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "insert failed: {}", self.error)
    }
}

impl<T> std::error::Error for InsertError<T> {}

/// How an entry ended: what made its handle stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EndReason {
    /// Its last reference was released ([`HandleTable::release`](crate::HandleTable::release) to zero).
    Released,
    /// It was revoked ([`HandleTable::revoke`](crate::HandleTable::revoke)); references taken before may have kept it
    /// alive a while longer, but no new lookup could reach it after the revoke.
    Revoked,
    /// Its value was moved out with [`HandleTable::take`](crate::HandleTable::take).
    Taken,
}

impl EndReason {
    pub(crate) fn from_code(code: u64) -> Option<EndReason> {
        match code {
            END_RELEASED => Some(EndReason::Released),
            END_REVOKED => Some(EndReason::Revoked),
            END_TAKEN => Some(EndReason::Taken),
            _ => None,
        }
    }

    /// A short, stable, lower-case name: `"released"`, `"revoked"`, `"taken"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            EndReason::Released => "released",
            EndReason::Revoked => "revoked",
            EndReason::Taken => "taken",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds of failed handle checks that thread records count (read as
/// [`Failures`](crate::Failures)): one counter per kind, indexed by the discriminant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    Invalid,
    WrongTable,
    Busy,
    StaleReleased,
    StaleRevoked,
    StaleTaken,
    StaleUnknown,
}

impl FailureKind {
    /// Number of kinds: the length of a record's counter array.
    pub(crate) const COUNT: usize = FailureKind::StaleUnknown as usize + 1;

    /// The kind a failed check with `error` (and for stale handles, how the entry `ended`)
    /// counts as; `None` for errors that are not handle checks (`Null`, `Full`).
    pub(crate) fn of(error: Error, ended: Option<EndReason>) -> Option<FailureKind> {
        Some(match (error, ended) {
            (Error::Invalid, _) => FailureKind::Invalid,
            (Error::WrongTable, _) => FailureKind::WrongTable,
            (Error::Busy, _) => FailureKind::Busy,
            (Error::Stale, Some(EndReason::Released)) => FailureKind::StaleReleased,
            (Error::Stale, Some(EndReason::Revoked)) => FailureKind::StaleRevoked,
            (Error::Stale, Some(EndReason::Taken)) => FailureKind::StaleTaken,
            (Error::Stale, None) => FailureKind::StaleUnknown,
            _ => return None,
        })
    }
}
