//! SDK errors as the contract's kinds.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use store_core::{Delivery, Error};

/// Maps an SDK failure on `table` to the contract's kinds; `Delivery` says whether the
/// request may have been applied.
pub(crate) fn from_sdk<E, R>(e: SdkError<E, R>, table: &str) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().unwrap_or("").to_owned();
    let message = e.message().unwrap_or("").to_owned();
    match code.as_str() {
        "ResourceNotFoundException" => {
            return Error::Misconfigured(format!(
                "DynamoDB table `{table}` was not found ({message}): create it with \
                 `store_dynamodb::create_table(&client, \"{table}\", &layout)`, or declare it \
                 from `TableLayout::table_schema()` in your infrastructure code, and check the \
                 region and endpoint"
            ));
        }
        "ProvisionedThroughputExceededException"
        | "ThrottlingException"
        | "RequestLimitExceeded" => {
            return Error::Throttled {
                retry_after: None,
                source: Some(Box::new(NoSource(describe(&e)))),
            };
        }
        "ValidationException"
            if message.contains("key element does not match the schema")
                || message.contains("required keys was not given a value") =>
        {
            return Error::Misconfigured(format!(
                "DynamoDB table `{table}` has a different key schema than the store's \
                 `TableLayout` ({message}): set the layout's partition and sort key names to the \
                 table's"
            ));
        }
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "AccessDeniedException"
        | "MissingAuthenticationTokenException" => {
            return Error::Misconfigured(format!(
                "DynamoDB refused the credentials: {code}: {message}"
            ));
        }
        _ => {}
    }
    match &e {
        SdkError::ConstructionFailure(_) => Error::Misconfigured(format!(
            "the DynamoDB request could not be built: {}",
            describe(&e)
        )),
        SdkError::DispatchFailure(_) if describe(&e).contains("loading credentials") => {
            Error::Misconfigured(format!(
                "no AWS credentials could be loaded for DynamoDB: {} (set them in the \
                 environment or a profile, or pass a client or SdkConfig that has them)",
                describe(&e)
            ))
        }
        SdkError::DispatchFailure(failure) => {
            // Only a connection that was never made proves the request was not
            // delivered (hyper's `Connect` kind: refused, unreachable, failed
            // handshake); anything else (a connection reset or closed after the request
            // went out, a timeout while sending) may have delivered it. Matching a bare
            // "connect" would take "connection reset" for a refusal.
            let text = describe(&e);
            let never_connected = [
                "client error (Connect)",
                "tcp connect error",
                "Connection refused",
            ]
            .iter()
            .any(|sign| text.contains(sign));
            let delivery = if failure.is_io() && never_connected {
                Delivery::NotSent
            } else {
                Delivery::MaybeApplied
            };
            unavailable(delivery, "could not reach DynamoDB", e)
        }
        SdkError::TimeoutError(_) => {
            unavailable(Delivery::MaybeApplied, "DynamoDB did not answer in time", e)
        }
        SdkError::ResponseError(_) => unavailable(
            Delivery::MaybeApplied,
            "DynamoDB's response was unreadable",
            e,
        ),
        _ if code == "InternalServerError" || code == "ServiceUnavailable" => {
            unavailable(Delivery::MaybeApplied, "DynamoDB failed the request", e)
        }
        _ => Error::Backend {
            message: format!("DynamoDB: {code}: {message}"),
            source: Some(Box::new(NoSource(describe(&e)))),
        },
    }
}

fn describe<E: std::error::Error + 'static, R: std::fmt::Debug + 'static>(
    e: &SdkError<E, R>,
) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn unavailable<E, R>(delivery: Delivery, message: &str, e: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    Error::Unavailable {
        delivery,
        message: format!("{message}: {}", describe(&e)),
        source: Some(Box::new(NoSource(describe(&e)))),
    }
}

/// An error kept as text (the SDK's error types carry the raw response, which is not
/// `Sync` in every version).
#[derive(Debug)]
struct NoSource(String);

impl std::fmt::Display for NoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for NoSource {}
