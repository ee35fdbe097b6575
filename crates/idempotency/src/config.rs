use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use store_core::{Clock, SystemClock, Timestamp};

use crate::{IdempotencyError, JmesPath};

/// Records expire this long after they are written, unless configured.
pub const DEFAULT_EXPIRES_AFTER: Duration = Duration::from_secs(3600);
/// The in-progress window when neither the configuration nor an invocation deadline
/// gives one. Powertools writes no in-progress expiry then, so a crashed first run blocks
/// every duplicate until the record expires (an hour by default); here it is bounded.
pub const DEFAULT_IN_PROGRESS_WINDOW: Duration = Duration::from_secs(300);
/// Environment variables that, set to `true` or `1`, turn idempotency off (with a
/// warning) for local runs: fleetstate's own and Powertools'.
pub const DISABLED_ENV: [&str; 2] = [
    "FLEETSTATE_IDEMPOTENCY_DISABLED",
    "POWERTOOLS_IDEMPOTENCY_DISABLED",
];
/// Where the function name defaults from.
pub const FUNCTION_NAME_ENV: &str = "AWS_LAMBDA_FUNCTION_NAME";

type JsonSelect = Arc<dyn Fn(&Value) -> Value + Send + Sync>;
type TypedSelect = Arc<dyn Fn(&dyn Any) -> Result<Value, IdempotencyError> + Send + Sync>;

/// What part of the payload a hash is taken of.
#[derive(Clone)]
pub(crate) enum Selector {
    Whole,
    JmesPath(JmesPath),
    Json(JsonSelect),
    Typed {
        type_id: TypeId,
        type_name: &'static str,
        select: TypedSelect,
    },
}

impl fmt::Debug for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selector::Whole => f.write_str("Whole"),
            Selector::JmesPath(path) => write!(f, "JmesPath({:?})", path.as_str()),
            Selector::Json(_) => f.write_str("Json(<closure>)"),
            Selector::Typed { type_name, .. } => write!(f, "Typed({type_name})"),
        }
    }
}

impl Selector {
    fn typed<P: 'static, K: Serialize>(select: impl Fn(&P) -> K + Send + Sync + 'static) -> Self {
        Selector::Typed {
            type_id: TypeId::of::<P>(),
            type_name: std::any::type_name::<P>(),
            select: Arc::new(move |payload: &dyn Any| {
                let payload = payload.downcast_ref::<P>().ok_or_else(|| {
                    IdempotencyError::Configuration(format!(
                        "the key selector takes a `{}`",
                        std::any::type_name::<P>()
                    ))
                })?;
                serde_json::to_value(select(payload)).map_err(IdempotencyError::serialization)
            }),
        }
    }

    /// Whether selecting needs the payload as JSON (all but the typed closure).
    pub(crate) fn needs_json(&self) -> bool {
        !matches!(self, Selector::Typed { .. })
    }

    /// The selected value; `json` is the payload as JSON when [`Selector::needs_json`].
    pub(crate) fn select<'a, P: Any>(
        &self,
        payload: &P,
        json: Option<&'a Value>,
    ) -> Result<Cow<'a, Value>, IdempotencyError> {
        let json =
            || json.ok_or_else(|| IdempotencyError::Configuration("payload JSON missing".into()));
        match self {
            Selector::Whole => Ok(Cow::Borrowed(json()?)),
            Selector::JmesPath(path) => path.search(json()?).map(Cow::Owned),
            Selector::Json(select) => Ok(Cow::Owned(select(json()?))),
            Selector::Typed {
                type_id,
                type_name,
                select,
            } => {
                if *type_id != TypeId::of::<P>() {
                    return Err(IdempotencyError::Configuration(format!(
                        "the key selector takes a `{type_name}`, the call passed a `{}`",
                        std::any::type_name::<P>()
                    )));
                }
                select(payload).map(Cow::Owned)
            }
        }
    }
}

/// Waiting for an in-progress duplicate instead of failing with `AlreadyInProgress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dedupe {
    /// How often the record is read while waiting.
    pub poll_interval: Duration,
    /// The longest a duplicate waits before `AlreadyInProgress`.
    pub timeout: Duration,
}

impl Default for Dedupe {
    /// Poll every 50 ms for up to 10 s.
    fn default() -> Self {
        Dedupe {
            poll_interval: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The deepest nesting a stored result may have by default.
pub const DEFAULT_MAX_NESTING: u16 = 32;
/// The highest [`Config::max_nesting`]: serde_json's recursion limit, less the record's
/// own two levels.
pub const MAX_NESTING_LIMIT: u16 = 126;

/// What a response hook learns about a replayed result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Replay {
    /// The record key (hash of the idempotency key).
    pub key: String,
    /// When the stored record expires, if the store said.
    pub expires_at: Option<Timestamp>,
    /// Whether it came from the local cache (no store round trip).
    pub from_cache: bool,
}

type ResponseHook = Arc<dyn Fn(Value, &Replay) -> Value + Send + Sync>;

/// How an [`crate::Idempotency`] behaves. Every Powertools option has a counterpart.
///
/// ```
/// use std::time::Duration;
/// use idempotency::{Config, Dedupe};
/// let config = Config::new("payments")
///     .event_key_jmespath("[user_id, order.id]")?   // Powertools: event_key_jmespath
///     .payload_validation_jmespath("order.amount")? // payload_validation_jmespath
///     .raise_on_no_idempotency_key(true)            // raise_on_no_idempotency_key
///     .expires_after(Duration::from_secs(24 * 3600))// expires_after_seconds
///     .in_progress_window(Duration::from_secs(30))
///     .local_cache(1024)                            // use_local_cache, local_cache_max_items
///     .dedupe(Dedupe::default());
/// # let _ = config;
/// # Ok::<(), idempotency::IdempotencyError>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    pub(crate) name: Option<String>,
    pub(crate) key: Selector,
    pub(crate) validation: Option<Selector>,
    pub(crate) raise_on_no_key: bool,
    pub(crate) expires_after: Duration,
    pub(crate) in_progress_window: Option<Duration>,
    pub(crate) local_cache: Option<u64>,
    pub(crate) max_nesting: u16,
    pub(crate) dedupe: Option<Dedupe>,
    pub(crate) response_hook: Option<ResponseHook>,
    pub(crate) disabled: Option<bool>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("name", &self.name)
            .field("key", &self.key)
            .field("validation", &self.validation)
            .field("raise_on_no_idempotency_key", &self.raise_on_no_key)
            .field("expires_after", &self.expires_after)
            .field("in_progress_window", &self.in_progress_window)
            .field("local_cache", &self.local_cache)
            .field("max_nesting", &self.max_nesting)
            .field("dedupe", &self.dedupe)
            .field("response_hook", &self.response_hook.is_some())
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    /// The name from `AWS_LAMBDA_FUNCTION_NAME` (required at construction when unset),
    /// the whole payload as the key, no validation, 1-hour records.
    fn default() -> Self {
        Config {
            name: None,
            key: Selector::Whole,
            validation: None,
            raise_on_no_key: false,
            expires_after: DEFAULT_EXPIRES_AFTER,
            in_progress_window: None,
            local_cache: None,
            max_nesting: DEFAULT_MAX_NESTING,
            dedupe: None,
            response_hook: None,
            disabled: None,
            clock: Arc::new(SystemClock),
        }
    }
}

impl Config {
    /// Records under `idempotency#<name>`. Choose a name that survives refactoring (the
    /// operation, not a Rust path): renaming it forgets every stored result.
    pub fn new(name: impl Into<String>) -> Self {
        Config {
            name: Some(name.into()),
            ..Config::default()
        }
    }

    /// The idempotency key is the JMESPath `expression` over the payload as JSON, with
    /// Powertools' `powertools_json`, `powertools_base64`, `powertools_base64_gzip`.
    pub fn event_key_jmespath(mut self, expression: &str) -> Result<Self, IdempotencyError> {
        self.key = Selector::JmesPath(JmesPath::new(expression)?);
        Ok(self)
    }

    /// The idempotency key is what `select` returns for the typed payload. Calls with
    /// another payload type fail with a configuration error.
    pub fn key_by<P: 'static, K: Serialize>(
        mut self,
        select: impl Fn(&P) -> K + Send + Sync + 'static,
    ) -> Self {
        self.key = Selector::typed(select);
        self
    }

    /// The idempotency key is what `select` returns for the payload as JSON.
    pub fn key_by_json(mut self, select: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Self {
        self.key = Selector::Json(Arc::new(select));
        self
    }

    /// Duplicates must also match on the JMESPath `expression`'s result, or fail with
    /// `PayloadMismatch`.
    pub fn payload_validation_jmespath(
        mut self,
        expression: &str,
    ) -> Result<Self, IdempotencyError> {
        self.validation = Some(Selector::JmesPath(JmesPath::new(expression)?));
        Ok(self)
    }

    /// Duplicates must also match on what `select` returns for the typed payload.
    pub fn validate_by<P: 'static, K: Serialize>(
        mut self,
        select: impl Fn(&P) -> K + Send + Sync + 'static,
    ) -> Self {
        self.validation = Some(Selector::typed(select));
        self
    }

    /// Duplicates must match on the whole payload.
    pub fn validate_whole_payload(mut self) -> Self {
        self.validation = Some(Selector::Whole);
        self
    }

    /// With `true`, a payload whose key selection is empty fails with
    /// `NoIdempotencyKey`; with `false` (default) the handler runs without idempotency
    /// and a warning is logged.
    pub fn raise_on_no_idempotency_key(mut self, raise: bool) -> Self {
        self.raise_on_no_key = raise;
        self
    }

    /// How long a completed record is replayed (default 1 hour).
    pub fn expires_after(mut self, ttl: Duration) -> Self {
        self.expires_after = ttl;
        self
    }

    /// How long an execution may run before a duplicate takes it over as orphaned.
    /// Overrides the invocation deadline; without either, [`DEFAULT_IN_PROGRESS_WINDOW`].
    pub fn in_progress_window(mut self, window: Duration) -> Self {
        self.in_progress_window = Some(window);
        self
    }

    /// The deepest nesting of arrays and objects a stored result may have (default
    /// [`DEFAULT_MAX_NESTING`], at most [`MAX_NESTING_LIMIT`]), the same rule as
    /// record-storage's. A deeper result is not stored
    /// ([`IdempotencyError::ResultTooDeep`](crate::IdempotencyError::ResultTooDeep)), and a
    /// stored record nested deeper (written by someone else) is refused before it is
    /// decoded, so a hostile record cannot overflow a reader's stack.
    pub fn max_nesting(mut self, depth: u16) -> Self {
        self.max_nesting = depth.clamp(1, MAX_NESTING_LIMIT);
        self
    }

    /// Keep up to `max_items` completed results in process (least recently used out
    /// first): a duplicate served from it costs no store round trip. In-progress records
    /// are never cached.
    pub fn local_cache(mut self, max_items: u64) -> Self {
        self.local_cache = Some(max_items);
        self
    }

    /// Duplicates of an in-progress execution wait for its result (bounded) instead of
    /// failing with `AlreadyInProgress`.
    pub fn dedupe(mut self, dedupe: Dedupe) -> Self {
        self.dedupe = Some(dedupe);
        self
    }

    /// Transforms replayed results (e.g. to mark them as replays) before they are
    /// deserialized.
    pub fn response_hook(
        mut self,
        hook: impl Fn(Value, &Replay) -> Value + Send + Sync + 'static,
    ) -> Self {
        self.response_hook = Some(Arc::new(hook));
        self
    }

    /// Turns idempotency off (`true`) or on (`false`), overriding [`DISABLED_ENV`].
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// The clock in-progress windows are measured with (tests use a `ManualClock`).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

/// Whether the environment disables idempotency.
pub(crate) fn disabled_by_env() -> bool {
    DISABLED_ENV.iter().any(|var| {
        std::env::var(var)
            .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
    })
}

/// Powertools' notion of "no key": null, an empty string, array or object, or an array
/// of nulls.
pub(crate) fn is_empty_key(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(Value::is_null),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}
