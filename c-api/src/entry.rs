//! The registry's type-erased entries: a C object with its type tag and destructor, or a boxed
//! Rust object with its type tag and vtable.

use core::any::TypeId;
use core::ffi::c_void;

/// A C object's destructor: called once with the object pointer when its entry ends. NULL means
/// "nothing to do".
pub type HdlDestructor = Option<unsafe extern "C" fn(object: *mut c_void)>;

/// What a Rust object's entry needs to check its type and drop it.
pub(crate) struct RustType {
    pub(crate) type_id: fn() -> TypeId,
    /// `core::any::type_name` of the object, for leak reports.
    pub(crate) type_name: fn() -> &'static str,
    drop: unsafe fn(*mut c_void),
}

struct VTable<T>(core::marker::PhantomData<T>);

impl<T: Send + Sync + 'static> VTable<T> {
    const VTABLE: &'static RustType = &RustType {
        type_id: TypeId::of::<T>,
        type_name: core::any::type_name::<T>,
        drop: drop_box::<T>,
    };
}

/// # Safety
/// `object` must come from `Box::<T>::into_raw` and not have been freed.
unsafe fn drop_box<T>(object: *mut c_void) {
    // SAFETY: guaranteed by the caller.
    drop(unsafe { Box::from_raw(object.cast::<T>()) });
}

pub(crate) enum Kind {
    /// A C object with its (nullable) destructor.
    C(HdlDestructor),
    /// A boxed Rust object.
    Rust(&'static RustType),
}

/// One registry entry: a C object or a boxed Rust object, with its type tag.
pub(crate) struct Entry {
    pub(crate) object: *mut c_void,
    pub(crate) tag: u32,
    pub(crate) kind: Kind,
}

// SAFETY: C objects are inserted under the documented contract that they may be used and
// destroyed from any thread (`hdl_insert`'s doc comment); Rust objects are `T: Send + Sync`
// (enforced by `crate::insert`). The pointer itself is only passed around, never dereferenced
// here.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Entry {
    pub(crate) fn c(object: *mut c_void, tag: u32, destructor: HdlDestructor) -> Entry {
        Entry {
            object,
            tag,
            kind: Kind::C(destructor),
        }
    }

    pub(crate) fn rust<T: Send + Sync + 'static>(tag: u32, value: T) -> Entry {
        Entry {
            object: Box::into_raw(Box::new(value)).cast(),
            tag,
            kind: Kind::Rust(VTable::<T>::VTABLE),
        }
    }

    /// The object as a `&T`, if this entry holds a Rust `T`.
    pub(crate) fn downcast<T: 'static>(&self) -> Option<&T> {
        match self.kind {
            Kind::Rust(vt) if (vt.type_id)() == TypeId::of::<T>() => {
                // SAFETY: the type id says `object` is a live `Box<T>` owned by this entry,
                // which outlives the `&self` borrow.
                Some(unsafe { &*self.object.cast::<T>() })
            }
            _ => None,
        }
    }

    /// Takes the Rust object back out of an entry (one that never went into the registry).
    pub(crate) fn into_rust<T: 'static>(self) -> Option<T> {
        match self.kind {
            Kind::Rust(vt) if (vt.type_id)() == TypeId::of::<T>() => {
                let object = self.object;
                core::mem::forget(self);
                // SAFETY: the type id says `object` is a `Box<T>` owned by this entry, and
                // forgetting the entry hands that ownership to us (its Drop will not free it).
                Some(*unsafe { Box::from_raw(object.cast::<T>()) })
            }
            _ => None,
        }
    }

    /// Gives up ownership of a C object without running its destructor.
    pub(crate) fn into_c_object(self) -> *mut c_void {
        let object = self.object;
        core::mem::forget(self);
        object
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        match self.kind {
            Kind::C(None) => {}
            // SAFETY: the C caller of `hdl_insert` gave us the object with this destructor, to
            // be called exactly once when the entry ends; entries are dropped exactly once.
            Kind::C(Some(destructor)) => unsafe { destructor(self.object) },
            // SAFETY: `Entry::rust` built `object` with `Box::<T>::into_raw` for this vtable.
            Kind::Rust(vt) => unsafe { (vt.drop)(self.object) },
        }
    }
}
