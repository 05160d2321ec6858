//! The updatable fields of a mapping, one rule per field: how the spec fills it, when a request
//! sets it, when Lambda's value counts as drift, how an Update sends it, and what clears it when
//! the spec drops it (semantics §6, §6.6). Adding a field means adding its rule here; the steps
//! around it are in docs/adding-a-field.md.
//!
//! The normalizations that several rules share (function name against ARN, filters as JSON
//! multisets, set-like lists) live in [`super::diff`].

use std::collections::{BTreeMap, BTreeSet};

use super::desired::SourceKind;
use super::diff::{
    access_set, filter_set, function_matches, kafka_registry, on_failure, registry_matches,
    string_set,
};
use crate::api::{self, EventSourceMappingSpec};
use crate::lambda::types::{self as wire, MappingFields, ObservedMapping};

/// Everything the planner knows about one updatable field. Every member is required, so a rule
/// cannot leave out a decision; a field whose removal Lambda does not document says so with
/// `clear: None`.
struct FieldRule {
    /// Lambda's name: the key in requests and responses, and in `status.appliedFields`.
    wire_name: &'static str,
    /// The field's name in the resource's spec (`diff` reports changes by it).
    spec_name: &'static str,
    /// Writes the field of the Create request from the spec. Checks the API server cannot make
    /// are in [`super::desired`], before this runs.
    spec_to_wire: fn(&EventSourceMappingSpec, &mut MappingFields),
    /// Whether a request sets the field.
    is_set: fn(&MappingFields) -> bool,
    /// Whether the value the spec sets differs from what Lambda reports, after normalizing both.
    differs: fn(&MappingFields, &ObservedMapping) -> bool,
    /// Copies the wanted value into an Update patch, in the form Update accepts.
    put: fn(&MappingFields, &mut MappingFields),
    /// Writes the explicit clear value into the patch when Lambda still holds a non-default
    /// value, and says whether it did. `None`: Lambda documents no way to remove the field, so
    /// a dropped value stays as it is.
    clear: Option<fn(SourceKind, &ObservedMapping, &mut MappingFields) -> bool>,
}

/// Declares [`Field`] and ties each variant to its rule. A variant without a rule static does
/// not compile, and a rule static that no variant names is dead code, which
/// `clippy -D warnings` refuses.
macro_rules! updatable_fields {
    (
        $(#[$attr:meta])*
        pub(crate) enum Field { $($field:ident => $rule:ident),+ $(,)? }
    ) => {
        $(#[$attr])*
        pub(crate) enum Field { $($field),+ }

        impl Field {
            /// Every field, in declaration order (the order of `Ord`).
            pub(crate) const ALL: [Field; [$(Field::$field),+].len()] = [$(Field::$field),+];

            fn rule(self) -> &'static FieldRule {
                match self {
                    $(Field::$field => &$rule),+
                }
            }
        }
    };
}

updatable_fields! {
    /// An updatable field of a mapping, by its Lambda wire name. Create-only settings are not
    /// here but in [`wire::CREATE_ONLY`]: the API server refuses changes to them, and the planner
    /// stalls when an adopted mapping has other values.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) enum Field {
        FunctionName => FUNCTION_NAME,
        Enabled => ENABLED,
        BatchSize => BATCH_SIZE,
        FilterCriteria => FILTER_CRITERIA,
        KmsKeyArn => KMS_KEY_ARN,
        MetricsConfig => METRICS_CONFIG,
        LoggingConfig => LOGGING_CONFIG,
        ScalingConfig => SCALING_CONFIG,
        MaximumBatchingWindowInSeconds => MAXIMUM_BATCHING_WINDOW_IN_SECONDS,
        ParallelizationFactor => PARALLELIZATION_FACTOR,
        DestinationConfig => DESTINATION_CONFIG,
        MaximumRecordAgeInSeconds => MAXIMUM_RECORD_AGE_IN_SECONDS,
        BisectBatchOnFunctionError => BISECT_BATCH_ON_FUNCTION_ERROR,
        MaximumRetryAttempts => MAXIMUM_RETRY_ATTEMPTS,
        TumblingWindowInSeconds => TUMBLING_WINDOW_IN_SECONDS,
        SourceAccessConfigurations => SOURCE_ACCESS_CONFIGURATIONS,
        FunctionResponseTypes => FUNCTION_RESPONSE_TYPES,
        AmazonManagedKafkaEventSourceConfig => AMAZON_MANAGED_KAFKA_EVENT_SOURCE_CONFIG,
        SelfManagedKafkaEventSourceConfig => SELF_MANAGED_KAFKA_EVENT_SOURCE_CONFIG,
        DocumentDbEventSourceConfig => DOCUMENT_DB_EVENT_SOURCE_CONFIG,
        ProvisionedPollerConfig => PROVISIONED_POLLER_CONFIG,
    }
}

impl Field {
    pub(crate) fn wire_name(self) -> &'static str {
        self.rule().wire_name
    }

    pub(crate) fn spec_name(self) -> &'static str {
        self.rule().spec_name
    }

    /// The mapping's value of every updatable field Lambda reports, by spec name, each as
    /// compact JSON in Lambda's form (`enabled` from the state). Observe mode shows it in
    /// status; no field holds a secret (credentials are Secrets Manager ARNs).
    pub(crate) fn live_values(mapping: &ObservedMapping) -> BTreeMap<String, String> {
        let wire = serde_json::to_value(&mapping.fields).unwrap_or_default();
        let mut live: BTreeMap<String, String> = Field::ALL
            .into_iter()
            .filter_map(|field| {
                let value = wire.get(field.wire_name())?;
                Some((field.spec_name().to_string(), value.to_string()))
            })
            .collect();
        match mapping.state() {
            wire::MappingState::Enabled => live.insert("enabled".into(), "true".into()),
            wire::MappingState::Disabled => live.insert("enabled".into(), "false".into()),
            _ => None,
        };
        live
    }

    pub(crate) fn from_wire_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.wire_name() == name)
    }

    /// Writes this field of the Create request from the spec.
    pub(crate) fn spec_to_wire(self, spec: &EventSourceMappingSpec, request: &mut MappingFields) {
        (self.rule().spec_to_wire)(spec, request)
    }

    /// Whether the request sets this field.
    pub(crate) fn is_set(self, request: &MappingFields) -> bool {
        (self.rule().is_set)(request)
    }

    /// Whether this field, which the spec sets, differs from what Lambda reports. `Enabled` is
    /// never drift here: Lambda does not echo it, and the planner derives it from the state.
    pub(crate) fn differs(self, want: &MappingFields, have: &ObservedMapping) -> bool {
        (self.rule().differs)(want, have)
    }

    /// Copies this field of the desired mapping into an Update request.
    pub(crate) fn put(self, want: &MappingFields, patch: &mut MappingFields) {
        (self.rule().put)(want, patch)
    }

    /// Puts the explicit clear value of this field, which the spec no longer sets, into an
    /// Update request if Lambda still holds a non-default value. Returns whether it did.
    pub(crate) fn clear(
        self,
        source: SourceKind,
        have: &ObservedMapping,
        patch: &mut MappingFields,
    ) -> bool {
        self.rule()
            .clear
            .is_some_and(|clear| clear(source, have, patch))
    }
}

/// Writes `default` into the patch when Lambda reports another value; an absent value is taken
/// for the default, as Lambda leaves out some defaults.
fn restore<T: Copy + PartialEq>(patch: &mut Option<T>, have: Option<T>, default: T) -> bool {
    let off_default = have.is_some_and(|v| v != default);
    if off_default {
        *patch = Some(default);
    }
    off_default
}

/// Writes `empty` (the value that removes the field) into the patch when Lambda still holds
/// something.
fn empty_when<T>(holds_something: bool, patch: &mut Option<T>, empty: T) -> bool {
    if holds_something {
        *patch = Some(empty);
    }
    holds_something
}

// The rules. This is a table: one static per field, in the order of `Field`. Rows are long
// because every decision about a field is spelled out in its row.

static FUNCTION_NAME: FieldRule = FieldRule {
    wire_name: "FunctionName",
    spec_name: "functionName",
    spec_to_wire: |spec, request| request.function_name = Some(spec.function_name.clone()),
    is_set: |f| f.function_name.is_some(),
    // Lambda reports the function as `FunctionArn`; without it there is nothing to compare
    // against, and guessing would update forever.
    differs: |want, have| match (&want.function_name, &have.function_arn) {
        (Some(w), Some(h)) => !function_matches(w, h),
        _ => false,
    },
    put: |want, patch| patch.function_name = want.function_name.clone(),
    // The spec requires a function: it is never dropped.
    clear: None,
};

static ENABLED: FieldRule = FieldRule {
    wire_name: "Enabled",
    spec_name: "enabled",
    spec_to_wire: |spec, request| request.enabled = spec.enabled,
    is_set: |f| f.enabled.is_some(),
    // Lambda does not echo `Enabled`; the planner compares the wanted value with the state.
    differs: |_, _| false,
    put: |want, patch| patch.enabled = want.enabled,
    // Removing `enabled: false` means back to the default: enabled.
    clear: Some(|_, _, patch| {
        patch.enabled = Some(true);
        true
    }),
};

static BATCH_SIZE: FieldRule = FieldRule {
    wire_name: "BatchSize",
    spec_name: "batchSize",
    spec_to_wire: |spec, request| request.batch_size = spec.batch_size,
    is_set: |f| f.batch_size.is_some(),
    differs: |want, have| want.batch_size != have.fields.batch_size,
    put: |want, patch| patch.batch_size = want.batch_size,
    clear: Some(|source, have, patch| {
        let default = source.default_batch_size();
        restore(&mut patch.batch_size, have.fields.batch_size, default)
    }),
};

static FILTER_CRITERIA: FieldRule = FieldRule {
    wire_name: "FilterCriteria",
    spec_name: "filterCriteria",
    spec_to_wire: |spec, request| {
        request.filter_criteria = spec
            .filter_criteria
            .as_ref()
            .map(|fc| wire::FilterCriteria {
                filters: Some(
                    fc.filters
                        .iter()
                        .map(|f| wire::Filter {
                            pattern: Some(f.pattern.clone()),
                        })
                        .collect(),
                ),
            })
    },
    is_set: |f| f.filter_criteria.is_some(),
    // When Lambda could not decrypt the filters it reports an error instead of them; comparing
    // would loop forever. The error is surfaced in status instead.
    differs: |want, have| {
        have.filter_criteria_error.is_none()
            && filter_set(want.filter_criteria.as_ref())
                != filter_set(have.fields.filter_criteria.as_ref())
    },
    put: |want, patch| patch.filter_criteria = want.filter_criteria.clone(),
    clear: Some(|_, have, patch| {
        let empty = wire::FilterCriteria {
            filters: Some(vec![]),
        };
        let holds = !filter_set(have.fields.filter_criteria.as_ref()).is_empty();
        empty_when(holds, &mut patch.filter_criteria, empty)
    }),
};

static KMS_KEY_ARN: FieldRule = FieldRule {
    wire_name: "KMSKeyArn",
    spec_name: "kmsKeyARN",
    spec_to_wire: |spec, request| request.kms_key_arn = spec.kms_key_arn.clone(),
    is_set: |f| f.kms_key_arn.is_some(),
    // An empty key is no key: it is what clearing sends.
    differs: |want, have| {
        want.kms_key_arn.as_deref().filter(|k| !k.is_empty())
            != have.fields.kms_key_arn.as_deref().filter(|k| !k.is_empty())
    },
    put: |want, patch| patch.kms_key_arn = want.kms_key_arn.clone(),
    clear: Some(|_, have, patch| {
        let holds = have
            .fields
            .kms_key_arn
            .as_deref()
            .is_some_and(|k| !k.is_empty());
        empty_when(holds, &mut patch.kms_key_arn, String::new())
    }),
};

static METRICS_CONFIG: FieldRule = FieldRule {
    wire_name: "MetricsConfig",
    spec_name: "metricsConfig",
    spec_to_wire: |spec, request| {
        request.metrics_config = spec.metrics_config.as_ref().map(|m| wire::MetricsConfig {
            metrics: Some(m.metrics.iter().map(|x| format!("{x:?}")).collect()),
        })
    },
    is_set: |f| f.metrics_config.is_some(),
    // The metrics are a set.
    differs: |want, have| {
        metric_names(&want.metrics_config) != metric_names(&have.fields.metrics_config)
    },
    put: |want, patch| patch.metrics_config = want.metrics_config.clone(),
    clear: Some(|_, have, patch| {
        let empty = wire::MetricsConfig {
            metrics: Some(vec![]),
        };
        let holds = !metric_names(&have.fields.metrics_config).is_empty();
        empty_when(holds, &mut patch.metrics_config, empty)
    }),
};

fn metric_names(config: &Option<wire::MetricsConfig>) -> BTreeSet<&str> {
    string_set(config.as_ref().and_then(|m| m.metrics.as_ref()))
}

static LOGGING_CONFIG: FieldRule = FieldRule {
    wire_name: "LoggingConfig",
    spec_name: "loggingConfig",
    spec_to_wire: |spec, request| {
        request.logging_config = spec.logging_config.as_ref().map(|l| wire::LoggingConfig {
            system_log_level: Some(format!("{:?}", l.system_log_level)),
        })
    },
    is_set: |f| f.logging_config.is_some(),
    differs: |want, have| {
        let level =
            |l: &Option<wire::LoggingConfig>| l.as_ref().and_then(|l| l.system_log_level.clone());
        level(&want.logging_config) != level(&have.fields.logging_config)
    },
    put: |want, patch| patch.logging_config = want.logging_config.clone(),
    // Lambda does not document how to remove a logging level.
    clear: None,
};

static SCALING_CONFIG: FieldRule = FieldRule {
    wire_name: "ScalingConfig",
    spec_name: "scalingConfig",
    spec_to_wire: |spec, request| {
        request.scaling_config = spec.scaling_config.as_ref().map(|s| wire::ScalingConfig {
            maximum_concurrency: s.maximum_concurrency,
        })
    },
    is_set: |f| f.scaling_config.is_some(),
    differs: |want, have| {
        let cap = |s: &Option<wire::ScalingConfig>| s.as_ref().and_then(|s| s.maximum_concurrency);
        cap(&want.scaling_config) != cap(&have.fields.scaling_config)
    },
    put: |want, patch| patch.scaling_config = want.scaling_config.clone(),
    clear: Some(|_, have, patch| {
        let holds = have
            .fields
            .scaling_config
            .as_ref()
            .is_some_and(|s| s.maximum_concurrency.is_some());
        empty_when(
            holds,
            &mut patch.scaling_config,
            wire::ScalingConfig::default(),
        )
    }),
};

static MAXIMUM_BATCHING_WINDOW_IN_SECONDS: FieldRule = FieldRule {
    wire_name: "MaximumBatchingWindowInSeconds",
    spec_name: "maximumBatchingWindowInSeconds",
    spec_to_wire: |spec, request| {
        request.maximum_batching_window_in_seconds = spec.maximum_batching_window_in_seconds
    },
    is_set: |f| f.maximum_batching_window_in_seconds.is_some(),
    differs: |want, have| {
        want.maximum_batching_window_in_seconds != have.fields.maximum_batching_window_in_seconds
    },
    put: |want, patch| {
        patch.maximum_batching_window_in_seconds = want.maximum_batching_window_in_seconds
    },
    // Kafka, MQ and DocumentDB default to 500 ms, which no whole-second value restores: their
    // window is left as it is.
    clear: Some(
        |source, have, patch| match source.default_batching_window() {
            Some(default) => restore(
                &mut patch.maximum_batching_window_in_seconds,
                have.fields.maximum_batching_window_in_seconds,
                default,
            ),
            None => false,
        },
    ),
};

static PARALLELIZATION_FACTOR: FieldRule = FieldRule {
    wire_name: "ParallelizationFactor",
    spec_name: "parallelizationFactor",
    spec_to_wire: |spec, request| request.parallelization_factor = spec.parallelization_factor,
    is_set: |f| f.parallelization_factor.is_some(),
    differs: |want, have| want.parallelization_factor != have.fields.parallelization_factor,
    put: |want, patch| patch.parallelization_factor = want.parallelization_factor,
    clear: Some(|_, have, patch| {
        restore(
            &mut patch.parallelization_factor,
            have.fields.parallelization_factor,
            1,
        )
    }),
};

static DESTINATION_CONFIG: FieldRule = FieldRule {
    wire_name: "DestinationConfig",
    spec_name: "destinationConfig",
    spec_to_wire: |spec, request| {
        request.destination_config =
            spec.destination_config
                .as_ref()
                .map(|d| wire::DestinationConfig {
                    on_failure: d.on_failure.as_ref().map(|f| wire::Destination {
                        destination: Some(f.destination.clone()),
                    }),
                    on_success: None,
                })
    },
    is_set: |f| f.destination_config.is_some(),
    // Lambda shows an empty `OnFailure` husk when no destination is set.
    differs: |want, have| {
        on_failure(want.destination_config.as_ref())
            != on_failure(have.fields.destination_config.as_ref())
    },
    put: |want, patch| patch.destination_config = want.destination_config.clone(),
    clear: Some(|_, have, patch| {
        let empty = wire::DestinationConfig {
            on_failure: Some(wire::Destination {
                destination: Some(String::new()),
            }),
            on_success: None,
        };
        let holds = on_failure(have.fields.destination_config.as_ref()).is_some();
        empty_when(holds, &mut patch.destination_config, empty)
    }),
};

static MAXIMUM_RECORD_AGE_IN_SECONDS: FieldRule = FieldRule {
    wire_name: "MaximumRecordAgeInSeconds",
    spec_name: "maximumRecordAgeInSeconds",
    spec_to_wire: |spec, request| {
        request.maximum_record_age_in_seconds = spec.maximum_record_age_in_seconds
    },
    is_set: |f| f.maximum_record_age_in_seconds.is_some(),
    differs: |want, have| {
        want.maximum_record_age_in_seconds != have.fields.maximum_record_age_in_seconds
    },
    put: |want, patch| patch.maximum_record_age_in_seconds = want.maximum_record_age_in_seconds,
    // -1: records never expire.
    clear: Some(|_, have, patch| {
        let have = have.fields.maximum_record_age_in_seconds;
        restore(&mut patch.maximum_record_age_in_seconds, have, -1)
    }),
};

static BISECT_BATCH_ON_FUNCTION_ERROR: FieldRule = FieldRule {
    wire_name: "BisectBatchOnFunctionError",
    spec_name: "bisectBatchOnFunctionError",
    spec_to_wire: |spec, request| {
        request.bisect_batch_on_function_error = spec.bisect_batch_on_function_error
    },
    is_set: |f| f.bisect_batch_on_function_error.is_some(),
    // Absent is false.
    differs: |want, have| {
        want.bisect_batch_on_function_error.unwrap_or(false)
            != have.fields.bisect_batch_on_function_error.unwrap_or(false)
    },
    put: |want, patch| patch.bisect_batch_on_function_error = want.bisect_batch_on_function_error,
    clear: Some(|_, have, patch| {
        let have = have.fields.bisect_batch_on_function_error;
        restore(&mut patch.bisect_batch_on_function_error, have, false)
    }),
};

static MAXIMUM_RETRY_ATTEMPTS: FieldRule = FieldRule {
    wire_name: "MaximumRetryAttempts",
    spec_name: "maximumRetryAttempts",
    spec_to_wire: |spec, request| request.maximum_retry_attempts = spec.maximum_retry_attempts,
    is_set: |f| f.maximum_retry_attempts.is_some(),
    differs: |want, have| want.maximum_retry_attempts != have.fields.maximum_retry_attempts,
    put: |want, patch| patch.maximum_retry_attempts = want.maximum_retry_attempts,
    // -1 retries until the record expires; Kafka's Queue consumption mode defaults to no
    // retries instead (R8).
    clear: Some(|_, have, patch| {
        let queue_mode = have
            .fields
            .self_managed_kafka_event_source_config
            .as_ref()
            .and_then(|c| c.consumption_mode.as_deref())
            == Some("Queue");
        let default = if queue_mode { 0 } else { -1 };
        restore(
            &mut patch.maximum_retry_attempts,
            have.fields.maximum_retry_attempts,
            default,
        )
    }),
};

static TUMBLING_WINDOW_IN_SECONDS: FieldRule = FieldRule {
    wire_name: "TumblingWindowInSeconds",
    spec_name: "tumblingWindowInSeconds",
    spec_to_wire: |spec, request| {
        request.tumbling_window_in_seconds = spec.tumbling_window_in_seconds
    },
    is_set: |f| f.tumbling_window_in_seconds.is_some(),
    // Absent is 0: no window.
    differs: |want, have| {
        want.tumbling_window_in_seconds.unwrap_or(0)
            != have.fields.tumbling_window_in_seconds.unwrap_or(0)
    },
    put: |want, patch| patch.tumbling_window_in_seconds = want.tumbling_window_in_seconds,
    clear: Some(|_, have, patch| {
        let have = have.fields.tumbling_window_in_seconds;
        restore(&mut patch.tumbling_window_in_seconds, have, 0)
    }),
};

static SOURCE_ACCESS_CONFIGURATIONS: FieldRule = FieldRule {
    wire_name: "SourceAccessConfigurations",
    spec_name: "sourceAccessConfigurations",
    spec_to_wire: |spec, request| {
        request.source_access_configurations =
            spec.source_access_configurations.as_ref().map(|list| {
                list.iter()
                    .map(|c| wire::SourceAccessConfiguration {
                        kind: Some(c.kind.as_str()),
                        uri: c.uri.clone(),
                    })
                    .collect()
            })
    },
    is_set: |f| f.source_access_configurations.is_some(),
    // A set: Lambda may return the entries in another order.
    differs: |want, have| {
        access_set(want.source_access_configurations.as_ref())
            != access_set(have.fields.source_access_configurations.as_ref())
    },
    // A RabbitMQ VIRTUAL_HOST entry is create-only and must not be sent on Update (R16).
    put: |want, patch| {
        patch.source_access_configurations = want.source_access_configurations.as_ref().map(|l| {
            l.iter()
                .filter(|c| c.kind.as_deref() != Some(wire::VIRTUAL_HOST))
                .cloned()
                .collect()
        })
    },
    clear: Some(|_, have, patch| {
        let holds = have
            .fields
            .source_access_configurations
            .as_ref()
            .is_some_and(|l| !l.is_empty());
        empty_when(holds, &mut patch.source_access_configurations, vec![])
    }),
};

static FUNCTION_RESPONSE_TYPES: FieldRule = FieldRule {
    wire_name: "FunctionResponseTypes",
    spec_name: "functionResponseTypes",
    spec_to_wire: |spec, request| {
        request.function_response_types = spec
            .function_response_types
            .as_ref()
            .map(|t| t.iter().map(|x| format!("{x:?}")).collect())
    },
    is_set: |f| f.function_response_types.is_some(),
    // A set; Lambda reports `[]` when none is set.
    differs: |want, have| {
        string_set(want.function_response_types.as_ref())
            != string_set(have.fields.function_response_types.as_ref())
    },
    put: |want, patch| patch.function_response_types = want.function_response_types.clone(),
    clear: Some(|_, have, patch| {
        let holds = have
            .fields
            .function_response_types
            .as_ref()
            .is_some_and(|l| !l.is_empty());
        empty_when(holds, &mut patch.function_response_types, vec![])
    }),
};

// In both Kafka configs only the schema registry can change: the consumer group and the
// consumption mode are create-only (compared by the create-only check, never sent on Update).

static AMAZON_MANAGED_KAFKA_EVENT_SOURCE_CONFIG: FieldRule = FieldRule {
    wire_name: "AmazonManagedKafkaEventSourceConfig",
    spec_name: "amazonManagedKafkaEventSourceConfig",
    spec_to_wire: |spec, request| {
        request.amazon_managed_kafka_event_source_config = spec
            .amazon_managed_kafka_event_source_config
            .as_ref()
            .map(|c| kafka_config(&c.consumer_group_id, &c.schema_registry_config, None))
    },
    is_set: |f| schema_registry_is_set(f.amazon_managed_kafka_event_source_config.as_ref()),
    differs: |want, have| {
        !registry_matches(
            kafka_registry(want.amazon_managed_kafka_event_source_config.as_ref()),
            kafka_registry(
                have.fields
                    .amazon_managed_kafka_event_source_config
                    .as_ref(),
            ),
        )
    },
    put: |want, patch| {
        patch.amazon_managed_kafka_event_source_config =
            registry_only(want.amazon_managed_kafka_event_source_config.as_ref())
    },
    // Lambda does not document how to remove a schema registry.
    clear: None,
};

static SELF_MANAGED_KAFKA_EVENT_SOURCE_CONFIG: FieldRule = FieldRule {
    wire_name: "SelfManagedKafkaEventSourceConfig",
    spec_name: "selfManagedKafkaEventSourceConfig",
    spec_to_wire: |spec, request| {
        request.self_managed_kafka_event_source_config = spec
            .self_managed_kafka_event_source_config
            .as_ref()
            .map(|c| {
                let mode = c.consumption_mode.map(|m| match m {
                    api::KafkaConsumptionMode::Stream => "Stream",
                    api::KafkaConsumptionMode::Queue => "Queue",
                });
                kafka_config(&c.consumer_group_id, &c.schema_registry_config, mode)
            })
    },
    is_set: |f| schema_registry_is_set(f.self_managed_kafka_event_source_config.as_ref()),
    differs: |want, have| {
        !registry_matches(
            kafka_registry(want.self_managed_kafka_event_source_config.as_ref()),
            kafka_registry(have.fields.self_managed_kafka_event_source_config.as_ref()),
        )
    },
    put: |want, patch| {
        patch.self_managed_kafka_event_source_config =
            registry_only(want.self_managed_kafka_event_source_config.as_ref())
    },
    // Lambda does not document how to remove a schema registry.
    clear: None,
};

// Only FullDocument can change: Update refuses DatabaseName and CollectionName (create-only,
// compared by the create-only check).
static DOCUMENT_DB_EVENT_SOURCE_CONFIG: FieldRule = FieldRule {
    wire_name: "DocumentDBEventSourceConfig",
    spec_name: "documentDBEventSourceConfig",
    spec_to_wire: |spec, request| {
        request.document_db_event_source_config =
            spec.document_db_event_source_config.as_ref().map(|d| {
                wire::DocumentDbEventSourceConfig {
                    database_name: Some(d.database_name.clone()),
                    collection_name: d.collection_name.clone(),
                    full_document: d.full_document.map(|f| format!("{f:?}")),
                }
            })
    },
    is_set: |f| f.document_db_event_source_config.is_some(),
    differs: |want, have| {
        let full_document = |c: &Option<wire::DocumentDbEventSourceConfig>| {
            c.as_ref().and_then(|c| c.full_document.clone())
        };
        let wanted = full_document(&want.document_db_event_source_config);
        wanted.is_some() && wanted != full_document(&have.fields.document_db_event_source_config)
    },
    put: |want, patch| {
        patch.document_db_event_source_config =
            want.document_db_event_source_config.as_ref().map(|c| {
                wire::DocumentDbEventSourceConfig {
                    full_document: c.full_document.clone(),
                    ..Default::default()
                }
            })
    },
    // Lambda does not document how to remove DocumentDB settings.
    clear: None,
};

static PROVISIONED_POLLER_CONFIG: FieldRule = FieldRule {
    wire_name: "ProvisionedPollerConfig",
    spec_name: "provisionedPollerConfig",
    spec_to_wire: |spec, request| {
        request.provisioned_poller_config =
            spec.provisioned_poller_config
                .as_ref()
                .map(|p| wire::ProvisionedPollerConfig {
                    minimum_pollers: p.minimum_pollers,
                    maximum_pollers: p.maximum_pollers,
                    poller_group_name: p.poller_group_name.clone(),
                })
    },
    is_set: |f| f.provisioned_poller_config.is_some(),
    // Lambda fills the bound the spec left out; compare only the given ones (§6.3).
    differs: |want, have| {
        let Some(w) = want.provisioned_poller_config.as_ref() else {
            return false;
        };
        let Some(h) = have.fields.provisioned_poller_config.as_ref() else {
            return true;
        };
        (w.minimum_pollers.is_some() && w.minimum_pollers != h.minimum_pollers)
            || (w.maximum_pollers.is_some() && w.maximum_pollers != h.maximum_pollers)
            || (w.poller_group_name.is_some() && w.poller_group_name != h.poller_group_name)
    },
    put: |want, patch| patch.provisioned_poller_config = want.provisioned_poller_config.clone(),
    // Lambda does not document how to leave provisioned mode.
    clear: None,
};

// Helpers of the Kafka rows.

fn kafka_config(
    group: &Option<String>,
    registry: &Option<api::SchemaRegistryConfig>,
    mode: Option<&str>,
) -> wire::KafkaEventSourceConfig {
    wire::KafkaEventSourceConfig {
        consumer_group_id: group.clone(),
        schema_registry_config: registry.as_ref().map(schema_registry),
        consumption_mode: mode.map(str::to_string),
    }
}

fn schema_registry(c: &api::SchemaRegistryConfig) -> wire::SchemaRegistryConfig {
    wire::SchemaRegistryConfig {
        schema_registry_uri: Some(c.schema_registry_uri.clone()),
        event_record_format: c.event_record_format.map(|f| format!("{f:?}")),
        access_configs: c.access_configs.as_ref().map(|list| {
            list.iter()
                .map(|a| wire::SourceAccessConfiguration {
                    kind: Some(a.kind.clone()),
                    uri: Some(a.uri.clone()),
                })
                .collect()
        }),
        schema_validation_configs: c.schema_validation_configs.as_ref().map(|list| {
            list.iter()
                .map(|v| wire::SchemaValidationConfig {
                    attribute: Some(v.attribute.clone()),
                })
                .collect()
        }),
    }
}

/// A Kafka config counts as set only with a schema registry, the one part Update takes.
fn schema_registry_is_set(c: Option<&wire::KafkaEventSourceConfig>) -> bool {
    c.is_some_and(|c| c.schema_registry_config.is_some())
}

fn registry_only(c: Option<&wire::KafkaEventSourceConfig>) -> Option<wire::KafkaEventSourceConfig> {
    c.map(|c| wire::KafkaEventSourceConfig {
        schema_registry_config: c.schema_registry_config.clone(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    //! The type system makes every rule complete; these check that every rule is about its own
    //! field. A row copied from another and not fully edited reads or writes the wrong field,
    //! and compiles.

    use std::collections::BTreeSet;

    use serde_json::{Map, Value, json};

    use super::*;

    const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:handler";
    const OTHER_FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:other";

    /// Example values of one field.
    struct Example {
        /// The spec's key and value.
        spec: (&'static str, Value),
        /// The same value as Lambda's wire form.
        wire: Value,
        /// Another value Lambda may hold, never its default (Kinesis defaults for the
        /// source-dependent ones), in the observed mapping's form.
        other: Value,
    }

    /// An exhaustive match: a new field does not compile here until it has examples.
    fn example(field: Field) -> Example {
        let secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:";
        let registry = "arn:aws:glue:us-east-1:123456789012:registry/";
        let (spec_key, spec, wire, other) = match field {
            Field::FunctionName => (
                "functionName",
                json!("handler"),
                json!("handler"),
                json!(OTHER_FUNCTION_ARN),
            ),
            Field::Enabled => ("enabled", json!(false), json!(false), json!(true)),
            Field::BatchSize => ("batchSize", json!(50), json!(50), json!(7)),
            Field::FilterCriteria => (
                "filterCriteria",
                json!({"filters": [{"pattern": r#"{"a": [1]}"#}]}),
                json!({"Filters": [{"Pattern": r#"{"a": [1]}"#}]}),
                json!({"Filters": [{"Pattern": r#"{"b": [2]}"#}]}),
            ),
            Field::KmsKeyArn => (
                "kmsKeyARN",
                json!("arn:aws:kms:us-east-1:123456789012:key/wanted"),
                json!("arn:aws:kms:us-east-1:123456789012:key/wanted"),
                json!("arn:aws:kms:us-east-1:123456789012:key/other"),
            ),
            Field::MetricsConfig => (
                "metricsConfig",
                json!({"metrics": ["EventCount"]}),
                json!({"Metrics": ["EventCount"]}),
                json!({"Metrics": ["ErrorCount"]}),
            ),
            Field::LoggingConfig => (
                "loggingConfig",
                json!({"systemLogLevel": "DEBUG"}),
                json!({"SystemLogLevel": "DEBUG"}),
                json!({"SystemLogLevel": "WARN"}),
            ),
            Field::ScalingConfig => (
                "scalingConfig",
                json!({"maximumConcurrency": 5}),
                json!({"MaximumConcurrency": 5}),
                json!({"MaximumConcurrency": 9}),
            ),
            Field::MaximumBatchingWindowInSeconds => (
                "maximumBatchingWindowInSeconds",
                json!(5),
                json!(5),
                json!(9),
            ),
            Field::ParallelizationFactor => ("parallelizationFactor", json!(2), json!(2), json!(3)),
            Field::DestinationConfig => (
                "destinationConfig",
                json!({"onFailure": {"destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}),
                json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:dlq"}}),
                json!({"OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:x"}}),
            ),
            Field::MaximumRecordAgeInSeconds => (
                "maximumRecordAgeInSeconds",
                json!(120),
                json!(120),
                json!(300),
            ),
            Field::BisectBatchOnFunctionError => (
                "bisectBatchOnFunctionError",
                json!(false),
                json!(false),
                json!(true),
            ),
            Field::MaximumRetryAttempts => ("maximumRetryAttempts", json!(3), json!(3), json!(5)),
            Field::TumblingWindowInSeconds => {
                ("tumblingWindowInSeconds", json!(30), json!(30), json!(60))
            }
            Field::SourceAccessConfigurations => (
                "sourceAccessConfigurations",
                json!([{"type": "BASIC_AUTH", "uri": format!("{secret}wanted")}]),
                json!([{"Type": "BASIC_AUTH", "URI": format!("{secret}wanted")}]),
                json!([{"Type": "BASIC_AUTH", "URI": format!("{secret}other")}]),
            ),
            Field::FunctionResponseTypes => (
                "functionResponseTypes",
                json!([]),
                json!([]),
                json!(["ReportBatchItemFailures"]),
            ),
            Field::AmazonManagedKafkaEventSourceConfig => (
                "amazonManagedKafkaEventSourceConfig",
                json!({"consumerGroupID": "g", "schemaRegistryConfig":
                    {"schemaRegistryURI": format!("{registry}wanted")}}),
                json!({"ConsumerGroupId": "g", "SchemaRegistryConfig":
                    {"SchemaRegistryURI": format!("{registry}wanted")}}),
                json!({"ConsumerGroupId": "g", "SchemaRegistryConfig":
                    {"SchemaRegistryURI": format!("{registry}other")}}),
            ),
            Field::SelfManagedKafkaEventSourceConfig => (
                "selfManagedKafkaEventSourceConfig",
                json!({"consumerGroupID": "g", "schemaRegistryConfig":
                    {"schemaRegistryURI": format!("{registry}wanted")}}),
                json!({"ConsumerGroupId": "g", "SchemaRegistryConfig":
                    {"SchemaRegistryURI": format!("{registry}wanted")}}),
                json!({"ConsumerGroupId": "g", "SchemaRegistryConfig":
                    {"SchemaRegistryURI": format!("{registry}other")}}),
            ),
            Field::DocumentDbEventSourceConfig => (
                "documentDBEventSourceConfig",
                json!({"databaseName": "db", "fullDocument": "UpdateLookup"}),
                json!({"DatabaseName": "db", "FullDocument": "UpdateLookup"}),
                json!({"DatabaseName": "db", "FullDocument": "Default"}),
            ),
            Field::ProvisionedPollerConfig => (
                "provisionedPollerConfig",
                json!({"minimumPollers": 2, "maximumPollers": 10}),
                json!({"MinimumPollers": 2, "MaximumPollers": 10}),
                json!({"MinimumPollers": 3, "MaximumPollers": 10}),
            ),
        };
        Example {
            spec: (spec_key, spec),
            wire,
            other,
        }
    }

    /// Where the observed mapping holds a field: Lambda reports the function as its ARN.
    fn observed_key(field: Field) -> &'static str {
        match field {
            Field::FunctionName => "FunctionArn",
            other => other.wire_name(),
        }
    }

    /// The request that sets every field to its example value.
    fn wanted() -> MappingFields {
        let body: Map<String, Value> = Field::ALL
            .into_iter()
            .map(|f| (f.wire_name().to_string(), example(f).wire))
            .collect();
        serde_json::from_value(Value::Object(body)).unwrap()
    }

    /// A mapping in sync with [`wanted`], with `change` applied to its JSON.
    fn observed(change: impl FnOnce(&mut Map<String, Value>)) -> ObservedMapping {
        let Value::Object(mut body) = serde_json::to_value(wanted()).unwrap() else {
            unreachable!("a request is a JSON object")
        };
        body.insert("UUID".into(), json!("6d1b2c3a-0000-4000-8000-000000000001"));
        body.insert("FunctionArn".into(), json!(FUNCTION_ARN));
        change(&mut body);
        serde_json::from_value(Value::Object(body)).unwrap()
    }

    /// A mapping that holds the other example value of every field.
    fn changed_everywhere() -> ObservedMapping {
        observed(|body| {
            for field in Field::ALL {
                body.insert(observed_key(field).into(), example(field).other);
            }
        })
    }

    fn keys(request: &MappingFields) -> BTreeSet<String> {
        let Value::Object(body) = serde_json::to_value(request).unwrap() else {
            unreachable!("a request is a JSON object")
        };
        body.keys().cloned().collect()
    }

    fn only(field: Field) -> BTreeSet<String> {
        BTreeSet::from([field.wire_name().to_string()])
    }

    /// Applies an Update patch as Lambda does at the top level: a field sent replaces the field.
    fn apply(patch: &MappingFields, to: &ObservedMapping) -> ObservedMapping {
        let Value::Object(sent) = serde_json::to_value(patch).unwrap() else {
            unreachable!("a request is a JSON object")
        };
        let mut body = serde_json::to_value(to).unwrap();
        for (key, value) in sent {
            body[key] = value;
        }
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn wire_names_round_trip_and_are_keys_of_the_wire_type() {
        for field in Field::ALL {
            assert_eq!(Field::from_wire_name(field.wire_name()), Some(field));
        }
        // A misspelt wire name would be dropped when the request is read, and missing here.
        let names: BTreeSet<String> = Field::ALL
            .iter()
            .map(|f| f.wire_name().to_string())
            .collect();
        assert_eq!(keys(&wanted()), names);
    }

    #[test]
    fn spec_names_are_the_keys_of_the_spec() {
        for field in Field::ALL {
            assert_eq!(field.spec_name(), example(field).spec.0, "{field:?}");
        }
    }

    /// spec.ignoreDrift's admission list names exactly the updatable fields.
    #[test]
    fn ignore_drift_accepts_exactly_the_updatable_fields() {
        let names: Vec<&str> = Field::ALL.iter().map(|f| f.spec_name()).collect();
        assert_eq!(names, api::IGNORABLE_FIELDS);
    }

    #[test]
    fn spec_to_wire_writes_its_own_field_in_wire_form() {
        let spec: Map<String, Value> = Field::ALL
            .into_iter()
            .map(|f| {
                let (key, value) = example(f).spec;
                (key.to_string(), value)
            })
            .collect();
        let spec: EventSourceMappingSpec = serde_json::from_value(Value::Object(spec)).unwrap();
        for field in Field::ALL {
            let mut request = MappingFields::default();
            field.spec_to_wire(&spec, &mut request);
            let expected = json!({ field.wire_name(): example(field).wire });
            assert_eq!(
                serde_json::to_value(&request).unwrap(),
                expected,
                "{field:?}"
            );
            assert!(field.is_set(&request), "{field:?}");
            assert!(!field.is_set(&MappingFields::default()), "{field:?}");
        }
    }

    #[test]
    fn differs_reads_its_own_field_only() {
        let want = wanted();
        let in_sync = observed(|_| {});
        for field in Field::ALL {
            assert!(!field.differs(&want, &in_sync), "{field:?} in sync");
        }
        for changed in Field::ALL {
            let have = observed(|body| {
                body.insert(observed_key(changed).into(), example(changed).other);
            });
            for field in Field::ALL {
                // Enabled is never drift by itself: the planner reads it from the state.
                let expected = field == changed && field != Field::Enabled;
                let differs = field.differs(&want, &have);
                assert_eq!(differs, expected, "{field:?} when {changed:?} changed");
            }
        }
    }

    #[test]
    fn put_writes_its_own_field_and_settles_the_drift() {
        let want = wanted();
        let have = changed_everywhere();
        for field in Field::ALL {
            let mut patch = MappingFields::default();
            field.put(&want, &mut patch);
            assert_eq!(keys(&patch), only(field), "{field:?}");
            // Lambda turns a function name into the ARN it reports; this test cannot.
            if field != Field::FunctionName {
                let updated = apply(&patch, &have);
                assert!(
                    !field.differs(&want, &updated),
                    "{field:?} after the update"
                );
            }
        }
    }

    #[test]
    fn clear_writes_its_own_field_once_or_is_declared_unclearable() {
        // Fields whose removal Lambda does not document (semantics §6.6); the function is
        // required by the spec.
        let unclearable = BTreeSet::from([
            Field::FunctionName,
            Field::LoggingConfig,
            Field::AmazonManagedKafkaEventSourceConfig,
            Field::SelfManagedKafkaEventSourceConfig,
            Field::DocumentDbEventSourceConfig,
            Field::ProvisionedPollerConfig,
        ]);
        let source = SourceKind::Kinesis;
        let have = changed_everywhere();
        for field in Field::ALL {
            let mut patch = MappingFields::default();
            let cleared = field.clear(source, &have, &mut patch);
            if unclearable.contains(&field) {
                assert!(!cleared, "{field:?}");
                assert_eq!(patch, MappingFields::default(), "{field:?}");
                continue;
            }
            assert!(cleared, "{field:?}");
            assert_eq!(keys(&patch), only(field), "{field:?}");
            // Enabled is always sent: Lambda does not echo it, so there is nothing to check.
            if field != Field::Enabled {
                let cleared_mapping = apply(&patch, &have);
                let mut again = MappingFields::default();
                assert!(
                    !field.clear(source, &cleared_mapping, &mut again),
                    "{field:?} cleared twice"
                );
            }
        }
    }
}
