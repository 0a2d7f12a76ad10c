//! Kubernetes' CEL quantity library (`quantity()`, `isQuantity()`, comparisons and arithmetic on
//! resource quantities such as `500m` or `4Gi`) for the `cel` crate, so that a policy's Kubernetes
//! rule evaluates in Causeway exactly as kube-apiserver evaluates it.
//!
//! A quantity is held exactly, as a whole number of nano-units: every quantity Kubernetes accepts
//! within ±2^63 units fits, and Kubernetes itself keeps no finer precision (it rounds up to
//! nano-units too).

use std::any::Any;
use std::cmp::Ordering;

use cel::common::types::{CelBool, CelDouble, CelInt, CelString, Type};
use cel::common::value::{StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

static QUANTITY_TYPE: Type = Type::new_unspecified_type("kubernetes.Quantity");

const NANO: i128 = 1_000_000_000;

/// A resource quantity in nano-units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Quantity {
    /// Parses Kubernetes' quantity syntax: a signed decimal number and one suffix, binary (`Ki` to
    /// `Ei`), decimal (`n`, `u`, `m`, `k`, `M` to `E`) or an exponent (`e3`, `E-2`).
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let number_end = unsigned
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(unsigned.len());
        let (number, suffix) = unsigned.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
            return None;
        }
        let mut digits: i128 = 0;
        for c in whole.chars().chain(fraction.chars()) {
            digits = digits
                .checked_mul(10)?
                .checked_add(i128::from(c.to_digit(10)?))?;
        }
        // The value is digits / 10^fraction × 2^binary × 10^decimal, in units; in nano-units the
        // decimal power grows by nine.
        let (binary, decimal): (u32, i32) = match suffix {
            "Ki" => (10, 0),
            "Mi" => (20, 0),
            "Gi" => (30, 0),
            "Ti" => (40, 0),
            "Pi" => (50, 0),
            "Ei" => (60, 0),
            "n" => (0, -9),
            "u" => (0, -6),
            "m" => (0, -3),
            "" => (0, 0),
            "k" => (0, 3),
            "M" => (0, 6),
            "G" => (0, 9),
            "T" => (0, 12),
            "P" => (0, 15),
            "E" => (0, 18),
            exponent => (0, exponent.strip_prefix(['e', 'E'])?.parse().ok()?),
        };
        let power = decimal + 9 - i32::try_from(fraction.len()).ok()?;
        let scaled = digits.checked_mul(2_i128.checked_pow(binary)?)?;
        let nanos = if power >= 0 {
            scaled.checked_mul(10_i128.checked_pow(power.unsigned_abs())?)?
        } else {
            // Finer than a nano-unit: rounded up, as Kubernetes does.
            let divisor = 10_i128
                .checked_pow(power.unsigned_abs())
                .unwrap_or(i128::MAX);
            scaled / divisor + i128::from(scaled % divisor != 0)
        };
        Some(Self(if negative { -nanos } else { nanos }))
    }

    fn integer(self) -> Option<i64> {
        (self.0 % NANO == 0)
            .then(|| i64::try_from(self.0 / NANO).ok())
            .flatten()
    }
}

impl Val for Quantity {
    fn get_type(&self) -> &Type {
        <Self as Val>::cel_type()
    }

    fn cel_type() -> &'static Type {
        &QUANTITY_TYPE
    }

    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Quantity>().is_some_and(|o| o == self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for Quantity {}

fn quantity(text: &CelString<'_>) -> Result<Quantity, ExecutionError> {
    Quantity::parse(text.inner()).ok_or_else(|| {
        ExecutionError::function_error(
            "quantity",
            format!("{:?} is not a valid quantity", text.inner()),
        )
    })
}

fn is_quantity(text: &CelString<'_>) -> CelBool {
    Quantity::parse(text.inner()).is_some().into()
}

fn is_less_than(this: &Quantity, other: &Quantity) -> CelBool {
    (this < other).into()
}

fn is_greater_than(this: &Quantity, other: &Quantity) -> CelBool {
    (this > other).into()
}

fn compare_to(this: &Quantity, other: &Quantity) -> CelInt {
    CelInt::from(match this.cmp(other) {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    })
}

fn sign(this: &Quantity) -> CelInt {
    CelInt::from(this.0.signum() as i64)
}

fn is_integer(this: &Quantity) -> CelBool {
    this.integer().is_some().into()
}

fn as_integer(this: &Quantity) -> Result<CelInt, ExecutionError> {
    this.integer().map(CelInt::from).ok_or_else(|| {
        ExecutionError::function_error(
            "asInteger",
            "the quantity is not a whole number in int range",
        )
    })
}

fn as_approximate_float(this: &Quantity) -> CelDouble {
    CelDouble::from(this.0 as f64 / NANO as f64)
}

fn overflow() -> ExecutionError {
    ExecutionError::function_error("add", "quantity overflow")
}

fn add(this: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    this.0
        .checked_add(other.0)
        .map(Quantity)
        .ok_or_else(overflow)
}

fn sub(this: &Quantity, other: &Quantity) -> Result<Quantity, ExecutionError> {
    this.0
        .checked_sub(other.0)
        .map(Quantity)
        .ok_or_else(overflow)
}

fn add_int(this: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    let other = i128::from(*other.inner()) * NANO;
    this.0.checked_add(other).map(Quantity).ok_or_else(overflow)
}

fn sub_int(this: &Quantity, other: &CelInt) -> Result<Quantity, ExecutionError> {
    let other = i128::from(*other.inner()) * NANO;
    this.0.checked_sub(other).map(Quantity).ok_or_else(overflow)
}

/// Registers the quantity library on `env`, with Kubernetes' names and signatures.
pub fn extension(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(QUANTITY_TYPE.to_owned())?;
    cel::add_overload!(env, fn quantity: (CelString) -> Result<Quantity>)?;
    cel::add_overload!(env, fn is_quantity: (CelString) -> CelBool)?;
    cel::add_member_overload!(env, fn is_less_than: (Quantity, Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn is_greater_than: (Quantity, Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn compare_to: (Quantity, Quantity) -> CelInt)?;
    cel::add_member_overload!(env, fn sign: (Quantity) -> CelInt)?;
    cel::add_member_overload!(env, fn is_integer: (Quantity) -> CelBool)?;
    cel::add_member_overload!(env, fn as_integer: (Quantity) -> Result<CelInt>)?;
    cel::add_member_overload!(env, fn as_approximate_float: (Quantity) -> CelDouble)?;
    cel::add_member_overload!(env, fn add: (Quantity, Quantity) -> Result<Quantity>)?;
    cel::add_member_overload!(env, fn sub: (Quantity, Quantity) -> Result<Quantity>)?;
    cel::add_member_overload!(env, fn add_int: (Quantity, CelInt) -> Result<Quantity>, name = "add")?;
    cel::add_member_overload!(env, fn sub_int: (Quantity, CelInt) -> Result<Quantity>, name = "sub")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cel::{Context, Value};

    use super::*;

    fn eval(expression: &str) -> Result<Value, String> {
        let mut env = Env::stdlib();
        env.add_extension(extension).expect("extension");
        let program = env.compile(expression).map_err(|e| e.to_string())?;
        program
            .execute(&Context::with_env(Arc::new(env)))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_every_suffix_as_kubernetes_does() {
        let q = |t: &str| Quantity::parse(t).map(|q| q.0);
        assert_eq!(q("2"), Some(2 * NANO));
        assert_eq!(q("2000m"), q("2"));
        assert_eq!(q("1.5"), q("1500m"));
        assert_eq!(q("4Gi"), Some(4 * (1 << 30) * NANO));
        assert_eq!(q("1k"), q("1000"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1E-3"), q("1m"));
        assert_eq!(q("-5m"), Some(-5_000_000));
        assert_eq!(q(".5"), q("500m"));
        assert_eq!(q("1n"), Some(1));
        // Finer than a nano-unit rounds up.
        assert_eq!(q("0.1n"), Some(1));
        for bad in ["", "m", "1.2.3", "1x", "1Gb", "--1", "1e", "Ki"] {
            assert_eq!(q(bad), None, "{bad}");
        }
    }

    #[test]
    fn offers_kubernetes_functions() {
        let t = |e: &str| eval(e).unwrap_or_else(|error| panic!("{e}: {error}"));
        assert_eq!(
            t("quantity('3').isGreaterThan(quantity('2500m'))"),
            Value::Bool(true)
        );
        assert_eq!(
            t("quantity('4Gi').isLessThan(quantity('4096Mi'))"),
            Value::Bool(false)
        );
        assert_eq!(
            t("quantity('4Gi') == quantity('4096Mi')"),
            Value::Bool(true)
        );
        assert_eq!(t("quantity('1').compareTo(quantity('2'))"), Value::Int(-1));
        assert_eq!(t("quantity('1k').asInteger()"), Value::Int(1000));
        assert_eq!(t("quantity('1500m').isInteger()"), Value::Bool(false));
        assert_eq!(
            t("quantity('1500m').asApproximateFloat()"),
            Value::Float(1.5)
        );
        assert_eq!(
            t("quantity('2').add(quantity('500m')) == quantity('2.5')"),
            Value::Bool(true)
        );
        assert_eq!(t("quantity('2').sub(3).sign()"), Value::Int(-1));
        assert_eq!(
            t("isQuantity('8Gi') && !isQuantity('8 GB')"),
            Value::Bool(true)
        );
        assert!(eval("quantity('lots')").is_err());
        assert!(eval("quantity('1500m').asInteger()").is_err());
    }
}
