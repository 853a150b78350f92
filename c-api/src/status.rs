//! The status enum every fallible `hdl_*` function returns.

use core::ffi::CStr;
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
//
// Non-exhaustive: a later version may add statuses (C callers treat any value they do not know
// as an error, see the README's "ABI stability").
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
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
    /// An argument that is neither a handle nor a pointer is out of range (for example an
    /// unknown reclamation policy).
    InvalidArgument = 10,
}

const _: () = assert!(size_of::<HdlStatus>() == 4 && align_of::<HdlStatus>() == 4);

/// Derives `HdlStatus::ALL` (crate-private: its type would change with every new status) and
/// [`HdlStatus::name`] from the variant names. The enum itself
/// stays a plain item above, because cbindgen reads the header's `hdl_status` from it and does not
/// expand macros. The list is checked against the enum by the compiler: `name` matches without a
/// wildcard (a missing variant does not compile, a repeated one is an unreachable pattern), and a
/// constant assertion checks that `ALL` is in discriminant order, which `hdl_status_name`
/// relies on. Each C name is `HDL_STATUS_` and the variant in SCREAMING_SNAKE_CASE, as cbindgen
/// renames the enumerators (`rename_variants`, `prefix_with_name`).
macro_rules! status_names {
    ($($variant:ident),+ $(,)?) => {
        impl HdlStatus {
            /// Every status, in numeric order.
            pub(crate) const ALL: [HdlStatus; [$(HdlStatus::$variant),+].len()] =
                [$(HdlStatus::$variant),+];

            /// The enumerator's name as it appears in the C header, e.g. `"HDL_STATUS_STALE"`.
            ///
            /// ```
            /// assert_eq!(hdl::HdlStatus::Stale.name(), c"HDL_STATUS_STALE");
            /// ```
            #[must_use]
            pub const fn name(self) -> &'static CStr {
                match self {
                    $(HdlStatus::$variant => {
                        const BYTES: &[u8] = &c_name::<{ c_name_len(stringify!($variant)) }>(
                            stringify!($variant),
                        );
                        const NAME: &CStr = as_c_str(BYTES);
                        NAME
                    })+
                }
            }
        }

        const _: () = {
            let mut i = 0;
            while i < HdlStatus::ALL.len() {
                assert!(HdlStatus::ALL[i] as usize == i, "HdlStatus::ALL is not in numeric order");
                i += 1;
            }
        };
    };
}

status_names!(
    Ok,
    NullHandle,
    NullPointer,
    Invalid,
    Stale,
    WrongTable,
    WrongType,
    Busy,
    Full,
    Panic,
    InvalidArgument,
);

impl HdlStatus {
    /// The status whose C value is `raw`, if there is one. Iterating
    /// `(0..).map_while(HdlStatus::from_raw)` visits every status in numeric order.
    ///
    /// ```
    /// use hdl::HdlStatus;
    /// assert_eq!(HdlStatus::from_raw(4), Some(HdlStatus::Stale));
    /// assert_eq!(HdlStatus::from_raw(u32::MAX), None);
    /// assert!((0..).map_while(HdlStatus::from_raw).any(|s| s == HdlStatus::Busy));
    /// ```
    #[must_use]
    pub const fn from_raw(raw: u32) -> Option<HdlStatus> {
        let all = HdlStatus::ALL;
        if (raw as usize) < all.len() {
            Some(all[raw as usize])
        } else {
            None
        }
    }

    /// A short human-readable description, e.g. `"stale handle: its entry has ended"`; what
    /// `hdl_status_message` returns.
    ///
    /// ```
    /// assert_eq!(hdl::HdlStatus::Busy.message().to_str().unwrap(), "the entry is in use (other references or borrows)");
    /// ```
    #[must_use]
    pub const fn message(self) -> &'static CStr {
        match self {
            HdlStatus::Ok => c"success",
            HdlStatus::NullHandle => c"null handle (0)",
            HdlStatus::NullPointer => c"a required pointer argument is NULL",
            HdlStatus::Invalid => c"invalid handle: never issued by this registry",
            HdlStatus::Stale => c"stale handle: its entry has ended (released, revoked or taken)",
            HdlStatus::WrongTable => c"handle of another handle table",
            HdlStatus::WrongType => c"the entry's type tag or Rust type is not the one expected",
            HdlStatus::Busy => c"the entry is in use (other references or borrows)",
            HdlStatus::Full => {
                c"capacity exhausted (no slot left, or reference count at its maximum)"
            }
            HdlStatus::Panic => c"a Rust panic was caught at the C boundary",
            HdlStatus::InvalidArgument => c"an argument is out of range",
        }
    }
}

/// The prefix cbindgen gives the enumerators of `hdl_status`.
const C_PREFIX: &str = "HDL_STATUS_";

/// The length of `c_name(variant)` with its NUL: an underscore before every capital but the
/// first.
const fn c_name_len(variant: &str) -> usize {
    let v = variant.as_bytes();
    let mut len = C_PREFIX.len() + v.len() + 1;
    let mut i = 1;
    while i < v.len() {
        if v[i].is_ascii_uppercase() {
            len += 1;
        }
        i += 1;
    }
    len
}

/// The C name of a variant with its NUL (`NullHandle` gives `HDL_STATUS_NULL_HANDLE`), built at
/// compile time. `N` is `c_name_len(variant)`.
const fn c_name<const N: usize>(variant: &str) -> [u8; N] {
    let (p, v) = (C_PREFIX.as_bytes(), variant.as_bytes());
    let mut out = [0u8; N];
    let mut n = 0;
    while n < p.len() {
        out[n] = p[n];
        n += 1;
    }
    let mut i = 0;
    while i < v.len() {
        assert!(
            v[i].is_ascii_alphanumeric(),
            "a variant name is ASCII letters and digits"
        );
        if i > 0 && v[i].is_ascii_uppercase() {
            out[n] = b'_';
            n += 1;
        }
        out[n] = v[i].to_ascii_uppercase();
        n += 1;
        i += 1;
    }
    assert!(n + 1 == N, "N must be c_name_len(variant)");
    out
}

/// `bytes` as a C string (evaluated at compile time, where a failure is a build error).
const fn as_c_str(bytes: &'static [u8]) -> &'static CStr {
    match CStr::from_bytes_with_nul(bytes) {
        Ok(name) => name,
        Err(_) => panic!("a C name has one NUL, at its end"),
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

impl From<handles::ffi::NullPointer> for HdlStatus {
    fn from(_: handles::ffi::NullPointer) -> HdlStatus {
        HdlStatus::NullPointer
    }
}

/// Rust libraries' own entry points (`handles::ffi`, `handles::entry_points!`) can return
/// `hdl_status`, so their C users see the statuses of the C API.
impl handles::ffi::Status for HdlStatus {
    const OK: HdlStatus = HdlStatus::Ok;
    const PANIC: HdlStatus = HdlStatus::Panic;
}

impl core::fmt::Display for HdlStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name().to_str().unwrap_or("HDL_STATUS_?"))
    }
}

impl std::error::Error for HdlStatus {}
