//! Slack settings: where they come from (flags and environment, through clap) and the
//! [`Secret`] wrapper that keeps tokens and the signing secret out of logs and `Debug`.

/// Slack's Web API, unless `SLACK_API_URL` points the bot elsewhere (a stand-in, staging).
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

pub use crate::secret::Secret;

/// The Slack flags of `tradeoff serve`. All optional: without a signing secret and a bot
/// token the server runs with Slack off.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct SlackArgs {
    /// Checks that requests come from Slack (Basic Information → Signing Secret).
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<Secret>,
    /// The bot token (`xoxb-...`) the bot posts with.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<Secret>,
    /// The base URL of Slack's Web API; every call goes to `{base}/{method}`.
    #[arg(long, env = "SLACK_API_URL", default_value = DEFAULT_API_URL)]
    pub slack_api_url: String,
    /// An app-level token (`xapp-...`): when set, the bot connects by Socket Mode instead of
    /// waiting for Slack's HTTP requests, so no public URL is needed.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true)]
    pub slack_app_token: Option<Secret>,
}

/// Settings for a running Slack app.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub signing_secret: Secret,
    pub bot_token: Secret,
    /// Without a trailing slash.
    pub api_url: String,
    pub app_token: Option<Secret>,
}

/// Why the Slack settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not; Slack needs both")]
    MissingSigningSecret,
    #[error("SLACK_SIGNING_SECRET is set but SLACK_BOT_TOKEN is not; Slack needs both")]
    MissingBotToken,
    #[error("SLACK_APP_TOKEN is set but SLACK_BOT_TOKEN is not; Socket Mode needs both")]
    AppTokenWithoutBotToken,
    #[error("SLACK_API_URL {0:?} is not an http(s) URL")]
    BadApiUrl(String),
}

impl SlackArgs {
    /// `Ok(None)`: Slack is off. A half-configured app is an error, not a silent "off".
    pub fn config(&self) -> Result<Option<SlackConfig>, ConfigError> {
        let api_url = self.slack_api_url.trim().trim_end_matches('/').to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError::BadApiUrl(self.slack_api_url.clone()));
        }
        let secret = self
            .slack_signing_secret
            .clone()
            .filter(|s| !s.expose().is_empty());
        let token = self
            .slack_bot_token
            .clone()
            .filter(|s| !s.expose().is_empty());
        let app_token = self
            .slack_app_token
            .clone()
            .filter(|s| !s.expose().is_empty());
        match (secret, token) {
            (None, None) if app_token.is_some() => Err(ConfigError::AppTokenWithoutBotToken),
            (None, None) => Ok(None),
            (None, Some(_)) if app_token.is_none() => Err(ConfigError::MissingSigningSecret),
            // Socket Mode requests are not signed: the websocket itself is authenticated.
            (None, Some(bot_token)) => Ok(Some(SlackConfig {
                signing_secret: Secret::new(""),
                bot_token,
                api_url,
                app_token,
            })),
            (Some(_), None) => Err(ConfigError::MissingBotToken),
            (Some(signing_secret), Some(bot_token)) => Ok(Some(SlackConfig {
                signing_secret,
                bot_token,
                api_url,
                app_token,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(secret: Option<&str>, token: Option<&str>, app: Option<&str>) -> SlackArgs {
        SlackArgs {
            slack_signing_secret: secret.map(Secret::new),
            slack_bot_token: token.map(Secret::new),
            slack_api_url: "http://127.0.0.1:9/api/".into(),
            slack_app_token: app.map(Secret::new),
        }
    }

    #[test]
    fn secrets_never_print() {
        let c = args(Some("sign-me"), Some("xoxb-1"), Some("xapp-1"))
            .config()
            .unwrap()
            .unwrap();
        let shown = format!("{c:?} {}", c.bot_token);
        assert!(!shown.contains("sign-me") && !shown.contains("xoxb") && !shown.contains("xapp"));
        assert!(shown.contains("[redacted]"));
        assert_eq!(c.api_url, "http://127.0.0.1:9/api");
    }

    #[test]
    fn slack_is_off_without_settings_and_half_settings_are_errors() {
        assert!(args(None, None, None).config().unwrap().is_none());
        assert_eq!(
            args(Some("s"), None, None).config().unwrap_err(),
            ConfigError::MissingBotToken
        );
        assert_eq!(
            args(None, Some("xoxb"), None).config().unwrap_err(),
            ConfigError::MissingSigningSecret
        );
        assert!(args(None, Some("xoxb"), Some("xapp"))
            .config()
            .unwrap()
            .is_some());
    }
}
