//! Cross-crate tests of `handles`; the tests live in `tests/tests/`.
