//! esm-controller: declare AWS Lambda event source mappings as Kubernetes resources.
//!
//! Rooms: [`api`] (the CRD), [`lambda`] (the AWS port, adapter and error classification),
//! [`plan`] (pure decisions), [`controller`] (watch, finalizer, status, events), [`telemetry`],
//! [`diff`] (`esm-controller diff`: what applying manifests would do in Lambda).

pub mod api;
pub mod controller;
pub mod diff;
pub mod http;
pub mod lambda;
pub mod plan;
mod sync;
pub mod telemetry;
