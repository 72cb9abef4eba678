//! The provider's Prometheus metrics.

use std::sync::Mutex;

use prometheus_client::metrics::family::Family;
use zg_node::metrics::{Counter, Registry};

use crate::engine::Usage;

/// Label set of a metric family: (name, value) pairs.
pub type Labels = Vec<(String, String)>;

/// Counters the provider keeps.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// Answers served and billed.
    pub requests: Counter,
    /// Prompt tokens billed.
    pub prompt_tokens: Counter,
    /// Generated tokens billed.
    pub completion_tokens: Counter,
    /// Requests refused, by OpenAI error code.
    pub refused: Family<Labels, Counter>,
    /// Settlement items sent, by 0G status.
    pub settlements: Family<Labels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            registry: Mutex::new(Registry::default()),
            requests: Counter::default(),
            prompt_tokens: Counter::default(),
            completion_tokens: Counter::default(),
            refused: Family::default(),
            settlements: Family::default(),
        };
        registry.register(
            "zg_compute_requests",
            "Answers served and billed",
            metrics.requests.clone(),
        );
        registry.register(
            "zg_compute_prompt_tokens",
            "Prompt tokens billed",
            metrics.prompt_tokens.clone(),
        );
        registry.register(
            "zg_compute_completion_tokens",
            "Generated tokens billed",
            metrics.completion_tokens.clone(),
        );
        registry.register(
            "zg_compute_refused",
            "Requests refused, by error code",
            metrics.refused.clone(),
        );
        registry.register(
            "zg_compute_settlements",
            "Settlement items sent, by status",
            metrics.settlements.clone(),
        );
        *metrics.registry.lock().unwrap_or_else(|p| p.into_inner()) = registry;
        metrics
    }
}

impl Metrics {
    /// Counts a billed answer.
    pub fn served(&self, usage: Usage) {
        self.requests.inc();
        self.prompt_tokens.inc_by(usage.prompt_tokens);
        self.completion_tokens.inc_by(usage.completion_tokens);
    }

    /// OpenMetrics text.
    pub fn render(&self) -> String {
        zg_node::metrics::render(&self.registry.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
