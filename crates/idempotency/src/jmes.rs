//! JMESPath (the `jmespath` crate) with Powertools' functions, so Powertools users can
//! bring their expressions: `powertools_json(s)` parses a JSON string,
//! `powertools_base64(s)` decodes base64 to text, `powertools_base64_gzip(s)` decodes
//! base64 and gunzips to text.

use std::fmt;
use std::io::Read;
use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, ErrorReason, JmespathError, Rcvar, Runtime, RuntimeError, Variable};
use serde_json::Value;

use crate::IdempotencyError;

// Leaked once: `Runtime` is `Sync` but not `Send` (its functions are `dyn Function + Sync`),
// and a shared reference is all a static needs.
static RUNTIME: LazyLock<&'static Runtime> = LazyLock::new(|| Box::leak(Box::new(runtime())));

fn runtime() -> Runtime {
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    runtime.register_function(
        "powertools_json",
        string_function(|s| {
            serde_json::from_str::<Value>(s)
                .map_err(|e| format!("powertools_json: {e}"))
                .and_then(|v| Variable::try_from(v).map_err(|e| e.to_string()))
        }),
    );
    runtime.register_function(
        "powertools_base64",
        string_function(|s| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("powertools_base64: {e}"))?;
            String::from_utf8(bytes)
                .map(Variable::String)
                .map_err(|e| format!("powertools_base64: {e}"))
        }),
    );
    runtime.register_function(
        "powertools_base64_gzip",
        string_function(|s| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("powertools_base64_gzip: {e}"))?;
            let mut text = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .map_err(|e| format!("powertools_base64_gzip: {e}"))?;
            Ok(Variable::String(text))
        }),
    );
    runtime
}

fn string_function(
    f: impl Fn(&str) -> Result<Variable, String> + Send + Sync + 'static,
) -> Box<CustomFunction> {
    Box::new(CustomFunction::new(
        Signature::new(vec![ArgumentType::String], None),
        Box::new(move |args: &[Rcvar], ctx: &mut Context<'_>| {
            let input = args[0].as_string().expect("the signature checked the type");
            f(input).map(Rcvar::new).map_err(|reason| {
                JmespathError::from_ctx(
                    ctx,
                    ErrorReason::Runtime(RuntimeError::InvalidType {
                        expected: "a decodable string".to_owned(),
                        actual: reason,
                        position: 0,
                    }),
                )
            })
        }),
    ))
}

/// A compiled JMESPath expression over JSON events.
///
/// ```
/// use idempotency::JmesPath;
/// let event = serde_json::json!({"body": "{\"order_id\": 7, \"amount\": 3}"});
/// let path = JmesPath::new("powertools_json(body).order_id")?;
/// assert_eq!(path.search(&event)?, serde_json::json!(7));
/// # Ok::<(), idempotency::IdempotencyError>(())
/// ```
#[derive(Clone)]
pub struct JmesPath {
    expression: Arc<jmespath::Expression<'static>>,
}

impl fmt::Debug for JmesPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JmesPath")
            .field(&self.expression.as_str())
            .finish()
    }
}

impl JmesPath {
    /// Compiles `expression`; an invalid one is a configuration error.
    pub fn new(expression: &str) -> Result<Self, IdempotencyError> {
        let expression = RUNTIME.compile(expression).map_err(|e| {
            IdempotencyError::Configuration(format!("JMESPath `{expression}`: {e}"))
        })?;
        Ok(JmesPath {
            expression: Arc::new(expression),
        })
    }

    /// The expression's result on `data` (JSON null when nothing matches).
    pub fn search(&self, data: &Value) -> Result<Value, IdempotencyError> {
        let found = self
            .expression
            .search(data)
            .map_err(IdempotencyError::serialization)?;
        serde_json::to_value(&*found).map_err(IdempotencyError::serialization)
    }

    /// The source text.
    pub fn as_str(&self) -> &str {
        self.expression.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::Write;

    #[test]
    fn powertools_functions_decode_their_inputs() {
        let body = json!({"user": "ana", "items": [1, 2]});
        let b64 = base64::engine::general_purpose::STANDARD.encode(body.to_string());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.to_string().as_bytes()).unwrap();
        let gz_b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let event = json!({"json": body.to_string(), "b64": b64, "gz": gz_b64});
        for expression in [
            "powertools_json(json).user",
            "powertools_json(powertools_base64(b64)).user",
            "powertools_json(powertools_base64_gzip(gz)).user",
        ] {
            assert_eq!(
                JmesPath::new(expression).unwrap().search(&event).unwrap(),
                json!("ana"),
                "{expression}"
            );
        }
        assert_eq!(
            JmesPath::new("[json, missing]")
                .unwrap()
                .search(&json!({"json": 1}))
                .unwrap(),
            json!([1, null])
        );
    }

    #[test]
    fn bad_expressions_and_inputs_are_errors() {
        assert!(matches!(
            JmesPath::new("a.["),
            Err(IdempotencyError::Configuration(_))
        ));
        let path = JmesPath::new("powertools_json(body)").unwrap();
        assert!(path.search(&json!({"body": "{not json"})).is_err());
        assert!(path.search(&json!({"body": 3})).is_err());
    }
}
