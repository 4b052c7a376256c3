//! `JUnit` XML: one test suite per report (scenario), one test case per
//! threshold per architecture — what CI systems show as passed and failed
//! tests without glue.

use quick_junit::{NonSuccessKind, Report as JunitReport, TestCase, TestCaseStatus, TestSuite};

use crate::model::Report;

/// The `JUnit` XML of `reports` (several scenarios checked together).
pub fn render(reports: &[Report]) -> String {
    let mut out = JunitReport::new("ttlab");
    for report in reports {
        out.add_test_suite(suite(report));
    }
    out.to_string()
        .expect("writing XML to a string cannot fail")
}

fn suite(report: &Report) -> TestSuite {
    let mut suite = TestSuite::new(format!("ttlab.{}", report.scenario));
    for a in &report.architectures {
        for t in &a.thresholds {
            let status = if t.holds {
                TestCaseStatus::success()
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_type("threshold");
                s.set_message(format!(
                    "{} is {}, breaking {}",
                    t.measure,
                    t.shown_value(),
                    t.describe()
                ));
                s.set_description(format!(
                    "scenario {} ({} run, seed {}), architecture {}: {} requests judged",
                    report.scenario, report.mode, report.seed, a.name, a.requests
                ));
                s
            };
            let mut case = TestCase::new(format!("{}: {}", a.name, t.describe()), status);
            case.set_classname(format!("{}.{}", report.scenario, a.name));
            suite.add_test_case(case);
        }
    }
    if report.interrupted {
        let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
        s.set_message("the run was interrupted before its end");
        let mut case = TestCase::new("run completed", s);
        case.set_classname(report.scenario.clone());
        suite.add_test_case(case);
    }
    suite
}
