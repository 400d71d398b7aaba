use kubesim::recorder::{EventRow, EventSink, EventType};
use kubesim::scenario::Scenario;
use kubesim::sim::Sim;
use std::sync::Arc;

fn run(text: &str) -> (Sim, Vec<EventRow>) {
    let s = Scenario::from_str(text, "x.toml").unwrap_or_else(|e| panic!("{e}"));
    let mut sim = Sim::new(Arc::new(s.config), EventSink::Memory(Vec::new())).expect("sim");
    sim.run();
    let ev = sim.rec.finish().expect("rows");
    (sim, ev)
}

fn dump(ev: &[EventRow], skip: &[EventType]) {
    for r in ev {
        if skip.contains(&r.event) {
            continue;
        }
        println!(
            "{:>12} {:?} {} {} {}",
            kubesim::time::format_secs(r.time.micros()),
            r.event,
            r.name,
            r.node,
            r.detail
        );
    }
}

#[test]
fn explore() {
    let which = std::env::var("X").unwrap_or_default();
    let text = std::fs::read_to_string(format!("/tmp/fx/{which}.toml")).unwrap();
    let (sim, ev) = run(&text);
    dump(&ev, &[]);
    for (_, r) in sim.api.etcd.pods.iter() {
        println!("END {} phase={:?} ready={} node={:?} del={:?}", r.spec.name, r.state.phase, r.state.ready, r.state.node, r.state.deletion);
    }
    for (_, d) in sim.api.etcd.deployments.iter() { println!("END deploy {} {:?}", d.obj.name, d.obj.status); }
    for n in sim.api.etcd.nodes.iter().flatten() { println!("END node {} {:?} unsched={} taints={:?}", n.obj.name, n.obj.ready, n.obj.unschedulable, n.obj.taints.iter().map(|t| format!("{}:{:?}", t.key, t.effect)).collect::<Vec<_>>()); }
}

#[test]
fn explore_err() {
    let base = "[scenario]\nname = \"x\"\nduration = \"5m\"\n\n[[cluster.node_pools]]\nname = \"n\"\ncount = 2\ncpu = \"4\"\nmemory = \"8Gi\"\nzone = \"z1\"\n\n[[workloads.deployments]]\nname = \"web\"\nreplicas = 1\ntemplate = { requests = { cpu = \"100m\" } }\n\n";
    for f in [
        "[[faults]]\nverb = \"node-explode\"\nnodes = [\"n-0\"]\n",
        "[[faults]]\nverb = \"node-crash\"\nnodes = [\"n-0\"]\nfactor = 2.0\n",
        "[[faults]]\nverb = \"node-crash\"\npool = \"n\"\nper_node = true\nduration = \"1m\"\n",
        "[[faults]]\nverb = \"node-crash\"\nselector = \"tier in (a,\"\n",
        "[[faults]]\nverb = \"node-crash\"\nzone = \"z9\"\n",
        "[[faults]]\nverb = \"node-crash\"\npool = \"nope\"\n",
        "[[faults]]\nverb = \"container-crash\"\nworkload = \"nope\"\n",
        "[[faults]]\nverb = \"node-crash\"\npool = \"n\"\ncount = 1\npercent = 50\n",
        "[[faults]]\nverb = \"node-crash\"\npool = \"n\"\nbogus = 1\n",
    ] {
        let text = format!("{base}{f}");
        match Scenario::from_str(&text, "bad.toml") {
            Ok(_) => println!("OK?!\n{f}"),
            Err(e) => println!("----\n{e}"),
        }
    }
}
