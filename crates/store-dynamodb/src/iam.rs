//! The DynamoDB actions each store operation sends, for least-privilege IAM policies
//! (`fleetstate iam` prints one per feature).

use store_core::raw::Operation;

use crate::TableLayout;

/// The DynamoDB API actions `operation` may send on a table with `layout`: what an IAM
/// policy must allow for it, and nothing more.
///
/// - `get`, `exists`: `GetItem`;
/// - `set` (every condition): `PutItem`; `delete` (every condition): `DeleteItem`;
/// - `incr`: `UpdateItem`, and `PutItem` when it restarts an expired counter;
/// - `advance`: `UpdateItem`, and `GetItem` for the rare read that decides a refusal;
/// - `list`: `Query` in a composite layout, `Scan` in the simple one, and
///   `BatchGetItem` to check the keys a cursor carries;
/// - `clear`: what `list` sends, and `BatchWriteItem` of the deletes.
///
/// ```
/// use store_core::raw::Operation;
/// use store_dynamodb::{TableLayout, iam};
/// let simple = TableLayout::default();
/// assert_eq!(iam::actions(Operation::Get, &simple), ["GetItem"]);
/// assert!(iam::actions(Operation::Clear, &simple).contains(&"Scan"));
/// let composite = TableLayout::composite("pk", "sk");
/// assert!(iam::actions(Operation::List, &composite).contains(&"Query"));
/// ```
pub fn actions(operation: Operation, layout: &TableLayout) -> Vec<&'static str> {
    let walk = if layout.lists_by_query() {
        "Query"
    } else {
        "Scan"
    };
    match operation {
        Operation::Get | Operation::Exists => vec!["GetItem"],
        Operation::Set(_) => vec!["PutItem"],
        Operation::Delete(_) => vec!["DeleteItem"],
        Operation::Incr => vec!["UpdateItem", "PutItem"],
        Operation::Advance => vec!["UpdateItem", "GetItem"],
        Operation::List => vec![walk, "BatchGetItem"],
        Operation::Clear => vec![walk, "BatchGetItem", "BatchWriteItem"],
        // An operation added to the contract: allow nothing until it is mapped here.
        _ => Vec::new(),
    }
}

/// The sorted, deduplicated actions of `operations` on a table with `layout`.
pub fn actions_for(operations: &[Operation], layout: &TableLayout) -> Vec<&'static str> {
    let mut all: Vec<_> = operations
        .iter()
        .flat_map(|op| actions(*op, layout))
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}
