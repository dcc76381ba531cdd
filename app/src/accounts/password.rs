//! Passwords: the rules a new one must meet and its argon2id hash. Hashing and checking
//! take tens of milliseconds of CPU by design, so both run on a blocking thread, off the
//! async runtime's workers.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use thiserror::Error;
use zxcvbn::Score;

/// The shortest password accepted, in characters (NIST SP 800-63B asks for at least 8;
/// an audit product's admins get 12).
pub const MIN_LENGTH: usize = 12;

/// The longest, in characters: long passphrases are welcome, unbounded hashing work is not.
pub const MAX_LENGTH: usize = 256;

/// argon2id with OWASP's recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_LENGTH} characters long")]
    TooShort,
    #[error("the password must be at most {MAX_LENGTH} characters long")]
    TooLong,
    #[error("the password is too easy to guess{0}")]
    Guessable(String),
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// Checks a new password: its length, and that it is not among the common passwords,
/// names, words and patterns that guessing tools try first, nor built from `inputs` (the
/// username and display name).
pub fn check(password: &str, inputs: &[&str]) -> Result<(), PasswordError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordError::TooLong);
    }
    let estimate = zxcvbn::zxcvbn(password, inputs);
    // Three: guessed only after about 10^10 tries, out of reach of an online attack and
    // costly offline against argon2id.
    if estimate.score() < Score::Three {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()).or_else(|| f.suggestions().first().map(|s| s.to_string())))
            .map(|hint| format!(": {}", hint.trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        return Err(PasswordError::Guessable(hint));
    }
    Ok(())
}

fn hasher() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The password's argon2id hash in the PHC string format (salt and parameters included).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| PasswordError::Hash(e.to_string()))?
}

/// Whether `password` matches the stored hash. A hash that cannot be read matches nothing.
pub async fn verify(stored: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        // The hash's own parameters are used, so hashes made before a change of the
        // defaults still verify.
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_long_and_common_passwords_are_refused() {
        assert_eq!(check("short-pw", &[]), Err(PasswordError::TooShort));
        assert_eq!(check(&"x".repeat(MAX_LENGTH + 1), &[]), Err(PasswordError::TooLong));
        for common in ["password1234", "123456789012", "qwertyuiopasdf", "iloveyou1234", "Password123!"] {
            assert!(matches!(check(common, &[]), Err(PasswordError::Guessable(_))), "{common}");
        }
        // Built from the username: guessable for this user.
        assert!(matches!(check("margaretthatcher1", &["margaretthatcher"]), Err(PasswordError::Guessable(_))));
        for strong in ["correct-horse-battery-staple", "Vx9#tq2!Lm8@pz", "sieben Zwerge hinter den Bergen"] {
            assert_eq!(check(strong, &["alice"]), Ok(()), "{strong}");
        }
        // Length counts characters, not bytes.
        assert_eq!(check("ééééééééééé", &[]), Err(PasswordError::TooShort));
    }

    #[tokio::test]
    async fn hashes_are_argon2id_salted_and_verify_only_the_same_password() {
        let first = hash("correct-horse-battery-staple".into()).await.expect("hashes");
        let second = hash("correct-horse-battery-staple".into()).await.expect("hashes");
        assert!(first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{first}");
        assert_ne!(first, second, "each hash has its own salt");
        assert!(verify(first.clone(), "correct-horse-battery-staple".into()).await);
        assert!(!verify(first.clone(), "correct-horse-battery-stapl".into()).await);
        assert!(!verify("not a hash".into(), "anything".into()).await);
    }
}
