//! The emailed one-time code: exactly six decimal digits, handled as a string from end to end.
//! The Django system parsed it as an integer, so a code with a leading zero could never match.

use super::Invalid;

/// Six ASCII digits, leading zeros kept.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpCode(String);

impl OtpCode {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim();
        if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(Invalid::new("must be the 6-digit code from the email"))
        }
    }

    /// Builds the code from a number below one million, zero-padded.
    pub fn from_number(n: u32) -> Self {
        Self(format!("{:06}", n % 1_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Never print a code by accident.
impl std::fmt::Debug for OtpCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OtpCode(******)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_with_leading_zeros_is_a_valid_code() {
        assert_eq!(OtpCode::parse("000123").unwrap().as_str(), "000123");
        assert_eq!(OtpCode::from_number(42).as_str(), "000042");
    }

    #[test]
    fn anything_but_six_digits_is_refused() {
        for bad in ["12345", "1234567", "12a456", "", "１２３４５６"] {
            assert!(OtpCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_output_hides_the_code() {
        assert!(!format!("{:?}", OtpCode::from_number(987654)).contains("987654"));
    }
}
