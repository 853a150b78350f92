//! The status enum every fallible `hdl_*` function returns.

use core::ffi::{CStr, c_char, c_int};
use handles::Error;

/// The result of an `hdl_*` call. `HDL_STATUS_OK` is 0; every other value is an error, and a
/// call that fails changes nothing and writes none of its outputs.
///
/// In C, `hdl_status` is a `uint32_t` and the `HDL_STATUS_*` enumerators are its values (in
/// C++, an enum whose underlying type is `uint32_t`): its width never depends on the
/// compiler's enum size (`-fshort-enums`).
// Rust only returns this type or writes it into C memory; it never takes one from C. A value C
// passes in is taken as an integer and checked (`hdl_status_name`), since an integer outside
// the variants read as this enum would be undefined behaviour.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HdlStatus {
    /// Success.
    Ok = 0,
    /// The handle was 0 ("no handle").
    NullHandle = 1,
    /// A required pointer argument (an out-pointer, or the object to insert) was NULL.
    NullPointer = 2,
    /// The handle was never issued by the registry: forged, corrupted, or out of range.
    Invalid = 3,
    /// The handle was issued, but its entry has ended (released to zero, revoked or taken).
    Stale = 4,
    /// The handle was issued by another handle table (a Rust `HandleTable`, not the registry).
    WrongTable = 5,
    /// The entry's type tag (or Rust type) is not the one the caller expects.
    WrongType = 6,
    /// The entry is in use: `hdl_take` while other references or borrows exist.
    Busy = 7,
    /// Capacity exhausted: no slot left, or the entry's reference count is at its maximum.
    Full = 8,
    /// A Rust panic was caught at the boundary (for example in the `Drop` of a Rust object
    /// whose entry ended during this call). The operation itself completed; see each function.
    Panic = 9,
}

const _: () = assert!(size_of::<HdlStatus>() == 4 && align_of::<HdlStatus>() == 4);

impl HdlStatus {
    /// Every status, in numeric order.
    pub const ALL: [HdlStatus; 10] = [
        HdlStatus::Ok,
        HdlStatus::NullHandle,
        HdlStatus::NullPointer,
        HdlStatus::Invalid,
        HdlStatus::Stale,
        HdlStatus::WrongTable,
        HdlStatus::WrongType,
        HdlStatus::Busy,
        HdlStatus::Full,
        HdlStatus::Panic,
    ];

    /// The enumerator's name as it appears in the C header, e.g. `"HDL_STATUS_STALE"`.
    pub const fn name(self) -> &'static CStr {
        match self {
            HdlStatus::Ok => c"HDL_STATUS_OK",
            HdlStatus::NullHandle => c"HDL_STATUS_NULL_HANDLE",
            HdlStatus::NullPointer => c"HDL_STATUS_NULL_POINTER",
            HdlStatus::Invalid => c"HDL_STATUS_INVALID",
            HdlStatus::Stale => c"HDL_STATUS_STALE",
            HdlStatus::WrongTable => c"HDL_STATUS_WRONG_TABLE",
            HdlStatus::WrongType => c"HDL_STATUS_WRONG_TYPE",
            HdlStatus::Busy => c"HDL_STATUS_BUSY",
            HdlStatus::Full => c"HDL_STATUS_FULL",
            HdlStatus::Panic => c"HDL_STATUS_PANIC",
        }
    }
}

impl From<Error> for HdlStatus {
    fn from(e: Error) -> HdlStatus {
        match e {
            Error::Null => HdlStatus::NullHandle,
            Error::Invalid => HdlStatus::Invalid,
            Error::Stale => HdlStatus::Stale,
            Error::WrongTable => HdlStatus::WrongTable,
            Error::Busy => HdlStatus::Busy,
            Error::Full => HdlStatus::Full,
            // `Error` is non-exhaustive; a future kind is still a rejected handle.
            _ => HdlStatus::Invalid,
        }
    }
}

impl core::fmt::Display for HdlStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name().to_str().unwrap_or("HDL_STATUS_?"))
    }
}

impl std::error::Error for HdlStatus {}

/// Returns the name of a status as a static, NUL-terminated string (`"HDL_STATUS_STALE"`), or
/// `"HDL_STATUS_UNKNOWN"` for a value that is not a status.
///
/// Ownership: the string is static; do not free it. Thread-safety: any thread. Errors: none.
#[unsafe(no_mangle)]
pub extern "C" fn hdl_status_name(status: c_int) -> *const c_char {
    let name = usize::try_from(status)
        .ok()
        .and_then(|i| HdlStatus::ALL.get(i))
        .map_or(c"HDL_STATUS_UNKNOWN", |s| s.name());
    name.as_ptr()
}
