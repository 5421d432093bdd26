//! Three nodes chat through a pg group: each node has one `member` actor in
//! group "chat" (scope "pg_chat"); every node broadcasts to all members it
//! sees through `ractor::pg`, local or remote alike, and then asks each
//! member how many lines it heard.

mod common;

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_grpc::{ConnectionMode, RactorClusterMessage};

const SCOPE: &str = "pg_chat";
const GROUP: &str = "chat";

#[derive(RactorClusterMessage)]
enum ChatMsg {
    /// One line from a speaker.
    Say { from: String, text: String },
    /// How many lines this member heard, and its name.
    #[rpc]
    Heard(RpcReplyPort<(String, u64)>),
}

struct Member {
    node: String,
}

impl Actor for Member {
    type Msg = ChatMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: ActorRef<ChatMsg>, (): ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: ActorRef<ChatMsg>,
        msg: ChatMsg,
        heard: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ChatMsg::Say { from, text } => {
                *heard += 1;
                println!("[{}] member heard {from}: {text}", self.node);
            }
            ChatMsg::Heard(reply) => {
                let _ = reply.send((self.node.clone(), *heard));
            }
        }
        Ok(())
    }
}

fn members() -> Vec<ActorRef<ChatMsg>> {
    ractor::pg::get_scoped_members(&SCOPE.to_owned(), &GROUP.to_owned())
        .into_iter()
        .map(ActorRef::from)
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // One process plays three nodes, so each node advertises only its own
    // member (ractor's registries are process-wide).
    let mut nodes = Vec::new();
    let mut actors = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        let member_name = format!("{name}/member");
        let own = member_name.clone();
        let node = common::start(name, move |c| {
            c.with_mode(ConnectionMode::Transitive)
                .with_advertise_filter(move |cell| cell.get_name().as_deref() == Some(own.as_str()))
        })
        .await?;
        let (member, _) = Actor::spawn(
            Some(member_name),
            Member {
                node: name.to_owned(),
            },
            (),
        )
        .await?;
        ractor::pg::join_scoped(SCOPE.into(), GROUP.into(), vec![member.get_cell()]);
        println!("[{name}] member joined pg group {SCOPE}/{GROUP}");
        nodes.push(node);
        actors.push(member);
    }

    // node-b and node-c only dial node-a; transitive mode meshes b and c.
    for i in [1, 2] {
        ractor_grpc::connect(&nodes[i].actor, nodes[0].addr.clone()).await?;
    }
    for _ in 0..100 {
        let meshed = futures_ready(&nodes).await;
        if meshed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "[demo] pg {SCOPE}/{GROUP} now has {} members in this process: 3 actors, plus 2 proxies held by each node",
        members().len()
    );

    // Each node broadcasts through the proxies its own sessions hold.
    for node in &nodes {
        let peers = ractor_grpc::list_groups(&node.actor).await?;
        let targets: Vec<_> = peers
            .iter()
            .filter(|g| g.scope == SCOPE && g.group == GROUP)
            .flat_map(|g| {
                g.members
                    .iter()
                    .filter(|m| m.node != node.name)
                    .map(|m| m.name.clone())
            })
            .flatten()
            .collect();
        for target in targets {
            let peer_node = target.trim_end_matches("/member");
            let Some(cell) =
                ractor_grpc::registry::where_is(&node.actor, peer_node, &target).await?
            else {
                continue;
            };
            let remote: ActorRef<ChatMsg> = ActorRef::from(cell);
            remote.cast(ChatMsg::Say {
                from: node.name.clone(),
                text: format!("hello {peer_node}, this is {}", node.name),
            })?;
        }
    }
    // Casts from different nodes travel different sessions; wait (bounded)
    // until every member has heard both other nodes.
    for member in &actors {
        let mut answer = (String::new(), 0);
        for _ in 0..250 {
            answer =
                ractor_grpc::call(member, ChatMsg::Heard, Some(Duration::from_secs(5))).await?;
            if answer.1 >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!("[{}] member heard {} lines in all", answer.0, answer.1);
    }
    for member in actors {
        member.stop(None);
    }
    for node in nodes {
        node.stop().await?;
    }
    println!("[demo] done");
    Ok(())
}

/// Whether every node has a ready session with both others.
async fn futures_ready(nodes: &[common::Node]) -> bool {
    for node in nodes {
        let ready = ractor_grpc::list_sessions(&node.actor)
            .await
            .map(|s| {
                s.iter()
                    .filter(|s| s.state == ractor_grpc::SessionState::Ready)
                    .count()
            })
            .unwrap_or(0);
        if ready < 2 {
            return false;
        }
    }
    true
}
