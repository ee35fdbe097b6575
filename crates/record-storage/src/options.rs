use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{DEFAULT_MAX_NESTING, Format, MAX_NESTING_LIMIT};
use crate::secure::Keyring;

/// Who can see a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Visible throughout the workspace: from every environment and invocation.
    Workspace,
    /// Visible only from the environment that wrote it (the default).
    #[default]
    Environment,
    /// Visible only during one invocation; kept at most [`INVOCATION_TTL`] and deleted
    /// when the invocation's guard ends ([`crate::RecordStorage::invocation`]).
    Invocation,
}

/// The longest an invocation-scoped record lives: a longer or absent `ttl` is cut to it.
pub const INVOCATION_TTL: Duration = Duration::from_secs(15 * 60);

/// The ids scopes are resolved from.
///
/// Ids may contain any characters: they are escaped into the namespace, so
/// `env = "a/b"` and `workspace = "a", env = "b"` can never meet.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Context {
    // Shared: options (and so contexts) are cloned on every call when merged.
    workspace_id: Arc<str>,
    environment_id: Arc<str>,
    invocation_id: Option<Arc<str>>,
}

/// Environment variable [`Context::from_env`] reads the workspace id from.
pub const WORKSPACE_ENV: &str = "FLEETSTATE_WORKSPACE_ID";
/// Environment variable [`Context::from_env`] reads the environment id from.
pub const ENVIRONMENT_ENV: &str = "FLEETSTATE_ENVIRONMENT_ID";

impl Context {
    /// A context for `workspace_id` / `environment_id`, outside any invocation.
    pub fn new(workspace_id: impl Into<String>, environment_id: impl Into<String>) -> Self {
        Context {
            workspace_id: Arc::from(workspace_id.into()),
            environment_id: Arc::from(environment_id.into()),
            invocation_id: None,
        }
    }

    /// From `FLEETSTATE_WORKSPACE_ID` and `FLEETSTATE_ENVIRONMENT_ID`, each `default`
    /// when unset.
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).unwrap_or_else(|_| "default".to_owned());
        Context::new(var(WORKSPACE_ENV), var(ENVIRONMENT_ENV))
    }

    /// The same context inside invocation `invocation_id`.
    pub fn with_invocation(mut self, invocation_id: impl Into<String>) -> Self {
        self.invocation_id = Some(Arc::from(invocation_id.into()));
        self
    }

    /// The workspace id.
    pub fn workspace_id(&self) -> &str {
        &self.workspace_id
    }

    /// The environment id.
    pub fn environment_id(&self) -> &str {
        &self.environment_id
    }

    /// The invocation id, when inside one.
    pub fn invocation_id(&self) -> Option<&str> {
        self.invocation_id.as_deref()
    }
}

impl Default for Context {
    /// [`Context::from_env`].
    fn default() -> Self {
        Context::from_env()
    }
}

/// Automatic retries when the store throttles (HTTP 429) or is briefly unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryOn429 {
    /// Retry with full-jitter backoff (store-core's `RetryLayer`). Default `true`.
    pub enabled: bool,
    /// Log a `tracing` warning per retry. Default `true`.
    pub verbose: bool,
}

impl Default for RetryOn429 {
    fn default() -> Self {
        RetryOn429 {
            enabled: true,
            verbose: true,
        }
    }
}

impl RetryOn429 {
    /// No retries and no warnings: the first `Throttled` error reaches the caller.
    pub const DISABLED: RetryOn429 = RetryOn429 {
        enabled: false,
        verbose: false,
    };
}

/// Record options, for an instance or a single call. Every field left unset inherits:
/// per-call options override the instance's field by field, and the instance's
/// override the defaults.
///
/// ```
/// use std::time::Duration;
/// use record_storage::{Options, Scope};
/// let instance = Options::new().scope(Scope::Workspace).ttl(Duration::from_secs(60));
/// let call = Options::new().deny_update_overwrite(true);
/// let effective = instance.merged(&call);
/// assert_eq!(effective.get_scope(), Scope::Workspace);
/// assert_eq!(effective.get_ttl(), Some(Duration::from_secs(60)));
/// assert!(effective.get_deny_update_overwrite());
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Options {
    scope: Option<Scope>,
    ttl: Option<Option<Duration>>,
    deny_update_overwrite: Option<bool>,
    secure: Option<bool>,
    retry_on_429: Option<RetryOn429>,
    format: Option<Format>,
    max_nesting: Option<u16>,
    context: Option<Context>,
    keyring: Option<Arc<Keyring>>,
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("scope", &self.scope)
            .field("ttl", &self.ttl)
            .field("deny_update_overwrite", &self.deny_update_overwrite)
            .field("secure", &self.secure)
            .field("retry_on_429", &self.retry_on_429)
            .field("format", &self.format)
            .field("max_nesting", &self.max_nesting)
            .field("context", &self.context)
            .field("keyring", &self.keyring.as_ref().map(|k| k.key_ids()))
            .finish()
    }
}

impl Options {
    /// Options with every field unset (all defaults).
    pub fn new() -> Self {
        Options::default()
    }

    /// Who can see the record. Default [`Scope::Environment`].
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// How long the record lives, at millisecond precision. Default: forever.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(Some(ttl));
        self
    }

    /// The record lives until deleted (overrides an inherited `ttl`).
    pub fn no_ttl(mut self) -> Self {
        self.ttl = Some(None);
        self
    }

    /// Fail with [`crate::RecordError::AlreadyExists`] instead of overwriting an
    /// existing record. Atomic: of concurrent insert-only writers exactly one wins.
    /// Default `false`.
    pub fn deny_update_overwrite(mut self, deny: bool) -> Self {
        self.deny_update_overwrite = Some(deny);
        self
    }

    /// Encrypt the value client-side (XChaCha20-Poly1305, bound to scope and key) and
    /// require encryption when reading. Needs a [`Keyring`]. Default `false`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = Some(secure);
        self
    }

    /// Retries on throttling. Default enabled and verbose.
    pub fn retry_on_429(mut self, retry: RetryOn429) -> Self {
        self.retry_on_429 = Some(retry);
        self
    }

    /// Serialization of written values. Default [`Format::Json`].
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// The deepest nesting of arrays and maps a value may have, in both formats
    /// (default [`DEFAULT_MAX_NESTING`], at most [`MAX_NESTING_LIMIT`]). Writes of deeper
    /// values and reads of deeper stored values fail with
    /// [`RecordError::NestedTooDeep`](crate::RecordError::NestedTooDeep), a read before
    /// any recursive decoding, so a hostile stored value cannot overflow a reader's
    /// stack.
    pub fn max_nesting(mut self, depth: u16) -> Self {
        self.max_nesting = Some(depth.clamp(1, MAX_NESTING_LIMIT));
        self
    }

    /// The ids scopes resolve from. Default [`Context::from_env`].
    pub fn context(mut self, context: Context) -> Self {
        self.context = Some(context);
        self
    }

    /// The keys for `secure` records.
    pub fn keyring(mut self, keyring: impl Into<Arc<Keyring>>) -> Self {
        self.keyring = Some(keyring.into());
        self
    }

    /// These options with every field set in `over` replaced by `over`'s.
    pub fn merged(&self, over: &Options) -> Options {
        fn pick<T: Clone>(base: &Option<T>, over: &Option<T>) -> Option<T> {
            over.clone().or_else(|| base.clone())
        }
        Options {
            scope: pick(&self.scope, &over.scope),
            ttl: pick(&self.ttl, &over.ttl),
            deny_update_overwrite: pick(&self.deny_update_overwrite, &over.deny_update_overwrite),
            secure: pick(&self.secure, &over.secure),
            retry_on_429: pick(&self.retry_on_429, &over.retry_on_429),
            format: pick(&self.format, &over.format),
            max_nesting: pick(&self.max_nesting, &over.max_nesting),
            context: pick(&self.context, &over.context),
            keyring: pick(&self.keyring, &over.keyring),
        }
    }

    /// The effective scope.
    pub fn get_scope(&self) -> Scope {
        self.scope.unwrap_or_default()
    }

    /// The effective TTL, before the invocation ceiling.
    pub fn get_ttl(&self) -> Option<Duration> {
        self.ttl.flatten()
    }

    /// Whether writes are insert-only.
    pub fn get_deny_update_overwrite(&self) -> bool {
        self.deny_update_overwrite.unwrap_or(false)
    }

    /// Whether values are encrypted.
    pub fn get_secure(&self) -> bool {
        self.secure.unwrap_or(false)
    }

    /// The effective retry settings.
    pub fn get_retry_on_429(&self) -> RetryOn429 {
        self.retry_on_429.unwrap_or_default()
    }

    /// The effective format.
    pub fn get_format(&self) -> Format {
        self.format.unwrap_or_default()
    }

    /// The effective nesting limit.
    pub fn get_max_nesting(&self) -> u16 {
        self.max_nesting.unwrap_or(DEFAULT_MAX_NESTING)
    }

    /// The context, when one was set.
    pub fn get_context(&self) -> Option<&Context> {
        self.context.as_ref()
    }

    /// The keyring, when one was set.
    pub fn get_keyring(&self) -> Option<&Arc<Keyring>> {
        self.keyring.as_ref()
    }

    /// The same options with the context filled in from the environment if unset.
    pub(crate) fn with_context_resolved(mut self) -> Self {
        if self.context.is_none() {
            self.context = Some(Context::from_env());
        }
        self
    }

    /// The TTL a write gets: the invocation scope caps it at [`INVOCATION_TTL`].
    pub(crate) fn effective_ttl(&self) -> Option<Duration> {
        match self.get_scope() {
            Scope::Invocation => Some(
                self.get_ttl()
                    .map_or(INVOCATION_TTL, |t| t.min(INVOCATION_TTL)),
            ),
            _ => self.get_ttl(),
        }
    }
}
