//! Discord settings: the bot token, the application's public key and id, and the REST base
//! URL, layered from flags and environment variables. Secrets are wrapped in [`Secret`] so
//! that no `Debug` print or log line ever shows them.

/// Discord's own API host. Tests point [`DiscordArgs::api_url`] at a local stand-in.
pub const DEFAULT_API_URL: &str = "https://discord.com";

pub use crate::secret::Secret;

/// The Discord flags of `serve` and `discord-register`. Every one also reads an environment
/// variable, whose value `--help` never shows.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct DiscordArgs {
    /// The bot token. Enables the gateway connection and every REST call.
    #[arg(long, env = "DISCORD_TOKEN", hide_env_values = true)]
    pub discord_token: Option<Secret>,

    /// The application's public key (hex), shown in the developer portal. Enables
    /// `POST /discord/interactions`.
    #[arg(long, env = "DISCORD_PUBLIC_KEY", hide_env_values = true)]
    pub discord_public_key: Option<String>,

    /// The application id (also the bot's user id).
    #[arg(long, env = "DISCORD_APPLICATION_ID")]
    pub discord_application_id: Option<String>,

    /// Where REST calls go: `{url}/api/v10/...`.
    #[arg(long = "discord-api-url", env = "DISCORD_API_URL", default_value = DEFAULT_API_URL)]
    pub api_url: String,

    /// Ask the gateway for the MESSAGE_CONTENT intent (privileged: enable it in the developer
    /// portal first). Without it the bot reads only replies that mention it.
    #[arg(long, env = "DISCORD_MESSAGE_CONTENT", default_value_t = false)]
    pub discord_message_content: bool,
}

/// What Discord is configured to do, once the arguments are checked.
#[derive(Clone, Debug)]
pub struct DiscordConfig {
    pub token: Option<Secret>,
    pub public_key: Option<[u8; 32]>,
    pub application_id: String,
    pub api_url: String,
    pub message_content: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("DISCORD_APPLICATION_ID is required when DISCORD_TOKEN or DISCORD_PUBLIC_KEY is set")]
    MissingApplicationId,
    #[error("DISCORD_APPLICATION_ID must be a numeric id, not {0:?}")]
    BadApplicationId(String),
    #[error("DISCORD_PUBLIC_KEY must be 64 hexadecimal digits (an Ed25519 public key)")]
    BadPublicKey,
    #[error("DISCORD_API_URL must start with http:// or https://, not {0:?}")]
    BadApiUrl(String),
    #[error("{0} needs DISCORD_TOKEN too: the bot posts its questions through Discord's API")]
    MissingToken(&'static str),
}

impl DiscordArgs {
    /// `Ok(None)` when nothing Discord is configured: the bot stays off.
    pub fn config(&self) -> Result<Option<DiscordConfig>, ConfigError> {
        let token = self
            .discord_token
            .clone()
            .filter(|t| !t.expose().is_empty());
        let key = self
            .discord_public_key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty());
        if token.is_none() && key.is_none() {
            return Ok(None);
        }
        // The endpoint alone could answer, but the questions go out through REST calls.
        if token.is_none() {
            return Err(ConfigError::MissingToken("DISCORD_PUBLIC_KEY"));
        }
        let public_key = key
            .map(|k| {
                hex::decode(k)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or(ConfigError::BadPublicKey)
            })
            .transpose()?;
        if let Some(k) = &public_key {
            ed25519_dalek::VerifyingKey::from_bytes(k).map_err(|_| ConfigError::BadPublicKey)?;
        }
        let application_id = self
            .discord_application_id
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .ok_or(ConfigError::MissingApplicationId)?
            .to_owned();
        if !application_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::BadApplicationId(application_id));
        }
        let api_url = self.api_url.trim().trim_end_matches('/').to_owned();
        if !(api_url.starts_with("http://") || api_url.starts_with("https://")) {
            return Err(ConfigError::BadApiUrl(api_url));
        }
        Ok(Some(DiscordConfig {
            token,
            public_key,
            application_id,
            api_url,
            message_content: self.discord_message_content,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

    #[test]
    fn secrets_never_print() {
        let args = DiscordArgs {
            discord_token: Some(Secret::new("MTIz.very-secret-token")),
            discord_public_key: Some(KEY.into()),
            discord_application_id: Some("123".into()),
            api_url: DEFAULT_API_URL.into(),
            discord_message_content: false,
        };
        let config = args.config().unwrap().unwrap();
        for printed in [format!("{args:?}"), format!("{config:?}")] {
            assert!(!printed.contains("very-secret"), "{printed}");
            assert!(printed.contains("[redacted]"), "{printed}");
        }
    }

    #[test]
    fn nothing_set_means_off_and_bad_values_are_named() {
        assert!(DiscordArgs::default().config().unwrap().is_none());
        let mut args = DiscordArgs {
            discord_public_key: Some(KEY.into()),
            api_url: DEFAULT_API_URL.into(),
            ..Default::default()
        };
        assert_eq!(
            args.config().unwrap_err(),
            ConfigError::MissingToken("DISCORD_PUBLIC_KEY")
        );
        args.discord_token = Some(Secret::new("t"));
        assert_eq!(
            args.config().unwrap_err(),
            ConfigError::MissingApplicationId
        );
        args.discord_application_id = Some("123".into());
        args.discord_public_key = Some("zz".into());
        assert_eq!(args.config().unwrap_err(), ConfigError::BadPublicKey);
    }
}
