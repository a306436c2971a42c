//! Cryptography, in one place: password hashing, one-time codes, opaque secrets and JWTs.

pub mod jwt;
pub mod keys;
pub mod otp;
pub mod passwords;
pub mod secrets;
