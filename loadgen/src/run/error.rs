//! Why a real run could not be made.

use thiserror::Error;

use crate::script::ShareError;

/// Why a run could not be made.
#[derive(Debug, Error)]
pub enum RunError {
    /// The mocks did not start.
    #[error(transparent)]
    Mocks(#[from] ttlab_mock_apis::MockError),
    /// The servers did not start.
    #[error(transparent)]
    Stack(#[from] ttlab_ssr_origin::stack::StackError),
    /// Goose refused the load test.
    #[error("the load generator failed: {0}")]
    Goose(String),
    /// The scenario cannot run closed-loop.
    #[error("{0}")]
    Scenario(String),
    /// This load machine's share of the users is not one.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// The team's app could not be started, or did not answer.
    #[error(transparent)]
    App(#[from] super::app::AppError),
    /// Varnish (`[cdn] engine = "varnish"`) could not run: not installed,
    /// a VCL it refuses, a daemon that does not come up.
    #[error(transparent)]
    Varnish(#[from] super::varnish::VarnishError),
    /// `--page-views 0`.
    #[error("--page-views must be at least 1")]
    NoPageViews,
}
