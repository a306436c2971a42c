//! Money on the wire: an integer number of minor units (`1250` = 12.50) in the deployment's one
//! currency. Floats, decimal strings and booleans are refused outright, never rounded.

use super::Invalid;
use serde_json::Value;

/// The largest single amount: 100,000,000.00 in minor units.
pub const MAX_AMOUNT: i64 = 10_000_000_000;

/// A positive amount of minor units, `1 ..= MAX_AMOUNT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// From the JSON value the client sent: only a JSON integer in range is an amount.
    pub fn from_json(value: &Value) -> Result<Self, Invalid> {
        let Value::Number(number) = value else {
            return Err(Invalid::new(
                "must be a whole number of minor units (a JSON integer, not a string)",
            ));
        };
        if number.is_f64() {
            return Err(Invalid::new(
                "must be a whole number of minor units (no fractions)",
            ));
        }
        match number.as_i64() {
            Some(v) => Self::new(v),
            None => Err(Self::out_of_range()),
        }
    }

    pub fn new(minor_units: i64) -> Result<Self, Invalid> {
        if (1..=MAX_AMOUNT).contains(&minor_units) {
            Ok(Self(minor_units))
        } else {
            Err(Self::out_of_range())
        }
    }

    fn out_of_range() -> Invalid {
        Invalid::new(format!("must be from 1 to {MAX_AMOUNT} minor units"))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

/// The deployment's currency: an ISO 4217 code such as `USD` (setting `CURRENCY`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let code = raw.trim();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code.to_owned()))
        } else {
            Err(Invalid::new("must be a three-letter upper-case code"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Currency {
    fn default() -> Self {
        Self("USD".to_owned())
    }
}

/// A free-text note on a transfer or donate link: at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: Option<&str>) -> Result<Self, Invalid> {
        let text = raw.unwrap_or("").trim();
        if text.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!(
                "must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(Invalid::new("must not contain control characters"));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_json_integers_in_range_are_amounts() {
        assert_eq!(Amount::from_json(&json!(1)).map(Amount::minor_units), Ok(1));
        assert!(Amount::from_json(&json!(MAX_AMOUNT)).is_ok());
        for bad in [
            json!(0),
            json!(-5),
            json!(MAX_AMOUNT + 1),
            json!(u64::MAX),
            json!(12.5),
            json!(1.0),
            json!("100"),
            json!(true),
            json!(null),
            json!([1]),
        ] {
            assert!(Amount::from_json(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn descriptions_are_bounded() {
        assert!(Description::parse(Some(&"x".repeat(255))).is_ok());
        assert!(Description::parse(Some(&"x".repeat(256))).is_err());
        assert_eq!(Description::parse(None).unwrap().as_str(), "");
    }

    #[test]
    fn currencies_are_three_capitals() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_err());
        assert_eq!(Currency::default().as_str(), "USD");
    }
}
