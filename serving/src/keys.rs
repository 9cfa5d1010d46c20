//! Key material at start-up: the JWT signing secret and the key for secrets at rest.
//!
//! Both come from the configuration (filled from the environment) when given. Otherwise the
//! JWT secret is generated once and kept in `DATA_DIR/jwt-secret`, and — in dev mode only —
//! the sealing key in `DATA_DIR/secret-key`; both files are created with mode 0600 and
//! reused on every later start, so tokens and sealed secrets survive restarts. Rotation is
//! documented in `docs/api.md`.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::{ServeConfig, ServeError};
use crate::crypto::{SecretBox, decode_key, random_bytes};

/// Shortest JWT secret accepted (bytes), the HS256 key size.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The signing secrets: the current one signs, all verify.
#[derive(Clone)]
pub struct JwtSecrets {
    /// The secret that signs new tokens.
    pub current: Vec<u8>,
    /// Older secrets still accepted while their tokens expire.
    pub previous: Vec<Vec<u8>>,
}

/// Loads or generates the JWT secrets.
pub fn jwt_secrets(config: &ServeConfig) -> Result<JwtSecrets, ServeError> {
    let current = match &config.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => read_or_create_key_file(&config.data_dir.join("jwt-secret"))?
            .as_bytes()
            .to_vec(),
    };
    let previous: Vec<Vec<u8>> = config
        .previous_jwt_secrets
        .iter()
        .map(|secret| secret.as_bytes().to_vec())
        .collect();
    if std::iter::once(&current)
        .chain(&previous)
        .any(|secret| secret.len() < MIN_JWT_SECRET_BYTES)
    {
        return Err(ServeError::Config(format!(
            "VEROCTA_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes; generate one with `openssl rand -base64 48`"
        )));
    }
    Ok(JwtSecrets { current, previous })
}

/// Loads the key for secrets at rest, generating it in the data directory in dev mode.
pub fn secret_box(config: &ServeConfig) -> Result<SecretBox, ServeError> {
    let current_text = match &config.secret_key {
        Some(text) => text.clone(),
        None if config.dev_mode => read_or_create_key_file(&config.data_dir.join("secret-key"))?,
        None => {
            return Err(ServeError::Config(
                "set VEROCTA_SECRET_KEY to base64 of 32 random bytes (`openssl rand -base64 32`); only dev mode generates one"
                    .into(),
            ));
        }
    };
    let decode = |text: &str, name: &str| {
        decode_key(text).map_err(|problem| ServeError::Config(format!("{name}: {problem}")))
    };
    let current = decode(&current_text, "VEROCTA_SECRET_KEY")?;
    let previous = config
        .previous_secret_keys
        .iter()
        .map(|text| decode(text, "VEROCTA_SECRET_KEY_PREVIOUS"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SecretBox::new(&current, &previous))
}

/// Reads a base64 key file, or creates it (mode 0600) with 32 fresh random bytes.
fn read_or_create_key_file(path: &Path) -> Result<String, ServeError> {
    let io_error = |what: &'static str| {
        move |source| ServeError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    };
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_string()),
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(io_error("cannot read key file")(error));
        }
        Err(_) => {}
    }
    let bytes = random_bytes::<32>().map_err(|error| ServeError::Internal(error.to_string()))?;
    let text = STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(io_error("cannot create key file"))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_error("cannot write key file"))?;
    tracing::info!(path = %path.display(), "generated a new key file");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_created_once_and_private() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("k");
        let first = read_or_create_key_file(&path).unwrap();
        assert_eq!(read_or_create_key_file(&path).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn production_needs_a_sealing_key() {
        let directory = tempfile::tempdir().unwrap();
        let config = ServeConfig::new(directory.path(), "127.0.0.1:0".parse().unwrap());
        assert!(matches!(secret_box(&config), Err(ServeError::Config(_))));
        let dev = ServeConfig {
            dev_mode: true,
            ..config
        };
        assert!(secret_box(&dev).is_ok());
        assert!(directory.path().join("secret-key").exists());
    }
}
