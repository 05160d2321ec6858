//! A faithful in-memory emulator of AWS Lambda event source mappings.
//!
//! * [`model`]: the Lambda model. Controller tests call it in process; its API works on
//!   Lambda's wire JSON.
//! * [`server`]: the same model on Lambda's REST-JSON wire protocol, so the unmodified AWS SDKs
//!   talk to it through an endpoint URL, plus an admin API under `/_emulator/`. It also speaks
//!   STS (`AssumeRole`, `AssumeRoleWithWebIdentity`, `GetCallerIdentity`) and serves every
//!   Lambda call from the account of the caller's access key, one model per account.
//!
//! The behaviour follows `shared/docs/lambda-esm-semantics.md`; see `emulator/README.md` for the
//! choices made where that document is ambiguous.

mod accounts;
pub mod model;
pub mod server;
mod sts;

pub use model::{ApiError, Fault, ManualClock, Model, ModelConfig, Operation};
