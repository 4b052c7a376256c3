//! The terminal loop: drains frames into the state, redraws five times a
//! second, turns keys into actions, and always gives the terminal back
//! (on return, on error, and — through ratatui's hook — on panic).

use std::time::{Duration, Instant};

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};
use thiserror::Error;
use ttlab_loadgen::live::Live;
use ttlab_loadgen::sim::SimControl;

use crate::input;
use crate::state::{Action, DashState, Mode, Status};
use crate::views;

/// How often the screen is redrawn (at least 4 times a second feels live;
/// frames between redraws are folded in together).
pub const REDRAW: Duration = Duration::from_millis(200);

/// Why the dashboard could not run.
#[derive(Debug, Error)]
pub enum DashError {
    /// The terminal could not be set up or written to.
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// What the dashboard may ask of the run it watches.
pub trait RunControl: Sync {
    /// Stop soon; the run still writes its report.
    fn stop(&self);
    /// Pause or resume; `false` when the run cannot pause (real runs).
    fn set_paused(&self, _paused: bool) -> bool {
        false
    }
    /// Virtual microseconds simulated so far, for the speed-up factor.
    fn virtual_us(&self) -> Option<u64> {
        None
    }
}

impl RunControl for SimControl {
    fn stop(&self) {
        SimControl::stop(self);
    }

    fn set_paused(&self, paused: bool) -> bool {
        SimControl::set_paused(self, paused);
        true
    }

    fn virtual_us(&self) -> Option<u64> {
        Some(self.progress_us())
    }
}

/// Runs the dashboard full screen until the user leaves: with `q` (or Esc,
/// Ctrl-C) while the run goes, which stops it and waits for it to wind
/// down, or after the run finished. Returns the last state.
pub fn run(
    live: &Live,
    state: DashState,
    control: &dyn RunControl,
) -> Result<DashState, DashError> {
    // Raw mode, the alternate screen, and a panic hook that restores both.
    let mut terminal = ratatui::try_init()?;
    let mut state = state;
    let result = terminal
        .clear()
        .map_err(DashError::from)
        .and_then(|()| event_loop(&mut terminal, live, &mut state, control));
    ratatui::restore();
    result.map(|()| state)
}

/// Wall time the run was not paused, to turn virtual time into a speed-up.
struct Running {
    since: Instant,
    paused_at: Option<Instant>,
    paused_for: Duration,
}

impl Running {
    fn active(&self) -> Duration {
        let paused_now = self.paused_at.map_or(Duration::ZERO, |p| p.elapsed());
        self.since
            .elapsed()
            .saturating_sub(self.paused_for + paused_now)
    }

    fn pause(&mut self, paused: bool) {
        match (paused, self.paused_at) {
            (true, None) => self.paused_at = Some(Instant::now()),
            (false, Some(p)) => {
                self.paused_for += p.elapsed();
                self.paused_at = None;
            }
            _ => {}
        }
    }
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    live: &Live,
    state: &mut DashState,
    control: &dyn RunControl,
) -> Result<(), DashError> {
    let mut clock = Running {
        since: Instant::now(),
        paused_at: None,
        paused_for: Duration::ZERO,
    };
    let mut shown_arch = None;
    let mut cleared = Instant::now();
    loop {
        state.apply(live.take());
        let finished = live.finished();
        let active = clock.active().as_secs_f64();
        // Frozen once the run is over: wall time after it is the user's.
        let speedup = if state.status.finished {
            state.status.speedup
        } else {
            control
                .virtual_us()
                .filter(|_| active > 0.2)
                .map(|v| v as f64 / 1e6 / active)
        };
        let current = live.current_arch();
        state.set_status(Status {
            current,
            speedup,
            finished,
            ..state.status
        });
        // Goose writes a line of its own to stdout as an attack starts:
        // repaint the whole screen after it rather than leave it there.
        if state.facts.mode == Mode::Real
            && (current != shown_arch
                || cleared.elapsed() > Duration::from_secs(2)
                    && cleared.elapsed() < Duration::from_secs(3))
        {
            if current != shown_arch {
                cleared = Instant::now();
            }
            shown_arch = current;
            terminal.clear()?;
        }
        terminal.draw(|f| views::draw(f, state))?;
        if state.status.stopping && finished {
            return Ok(());
        }
        let deadline = Instant::now() + REDRAW;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !event::poll(left)? {
                break;
            }
            match event::read()? {
                Event::Key(key) => match input::action(key) {
                    Some(Action::Quit) => {
                        if finished {
                            return Ok(());
                        }
                        control.stop();
                        state.act(Action::Quit);
                        break;
                    }
                    Some(Action::Pause) => {
                        let paused = !state.status.paused;
                        if state.facts.mode == Mode::Sim && control.set_paused(paused) {
                            clock.pause(paused);
                            state.act(Action::Pause);
                        }
                        break;
                    }
                    Some(a) => {
                        state.act(a);
                        break;
                    }
                    None => {}
                },
                Event::Resize(..) => break,
                _ => {}
            }
        }
    }
}
