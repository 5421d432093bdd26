//! An actor for unit tests that need a live `ActorCell` and nothing else.

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef};

/// Does nothing; takes `()`.
struct Idle;

impl Actor for Idle {
    type Msg = ();
    type State = ();
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<()>, (): ()) -> Result<(), ActorProcessingErr> {
        Ok(())
    }
}

/// A fresh idle actor's cell (stop it at the end).
pub(crate) async fn idle_cell() -> ActorCell {
    Actor::spawn(None, Idle, ())
        .await
        .expect("spawn")
        .0
        .get_cell()
}
