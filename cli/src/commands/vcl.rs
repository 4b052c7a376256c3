//! `ttlab vcl`: the Varnish configuration of a scenario's CDN or edge
//! cache, with comments, for a team to adapt (the same VCL `ttlab run
//! --cdn varnish` runs).

use std::process::ExitCode;

use ttlab_ssr_origin::varnish::{Backend, VclSpec, generate};

use crate::args::VclArgs;
use crate::exit::EXIT_BAD_INPUT;

/// Prints (or writes) the VCL of one architecture.
pub fn run(args: &VclArgs) -> anyhow::Result<ExitCode> {
    let (shown, scenario) = match super::scenario_or_exit(&args.scenario) {
        Ok(s) => s,
        Err(code) => return Ok(code),
    };
    let Some(archs) = super::run::pick_archs(&scenario, std::slice::from_ref(&args.arch), &shown)
    else {
        return Ok(ExitCode::from(EXIT_BAD_INPUT));
    };
    let mut origins = Vec::new();
    for o in &args.origin {
        match Backend::parse(o) {
            Some(b) => origins.push(b),
            None => {
                eprintln!("error: --origin \"{o}\" is not HOST:PORT (or http://HOST:PORT)");
                return Ok(ExitCode::from(EXIT_BAD_INPUT));
            }
        }
    }
    let variant_param = scenario
        .app
        .as_ref()
        .map_or(ttlab_scenarios::alias::VARIANT_PARAM, |a| {
            a.variant_param.as_str()
        });
    let spec = VclSpec {
        scenario: &scenario.name,
        arch: &archs[0],
        origins: &origins,
        variant_param,
    };
    let text = match generate(&spec) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {shown}: {e}");
            return Ok(ExitCode::from(EXIT_BAD_INPUT));
        }
    };
    match &args.output {
        Some(path) => super::output::write(path, &text)?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
