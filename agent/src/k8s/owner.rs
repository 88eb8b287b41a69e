//! Owner chains: which workload a pod belongs to.
//!
//! A pod's controller reference names its immediate owner. Two kinds are intermediate:
//! a ReplicaSet is usually run by a Deployment and a Job by a CronJob, so their own
//! controller references (from the ReplicaSet and Job watches) decide the workload.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use crate::identity::WorkloadKind;

/// A controller reference, trimmed to what resolution needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    pub uid: Arc<str>,
    pub kind: WorkloadKind,
    pub name: Arc<str>,
}

/// The controller among an object's owner references: the one marked `controller`
/// (Kubernetes allows at most one), or else the only owner if there is just one.
pub fn controller_of(
    refs: Option<&[OwnerReference]>,
    intern: &mut impl FnMut(&str) -> Arc<str>,
) -> Option<Controller> {
    let refs = refs?;
    let r = refs
        .iter()
        .find(|r| r.controller == Some(true))
        .or(if refs.len() == 1 { refs.first() } else { None })?;
    Some(Controller {
        uid: intern(&r.uid),
        kind: WorkloadKind::from_owner_kind(&r.kind),
        name: intern(&r.name),
    })
}

/// The controllers of the intermediate owners (ReplicaSets, Jobs), by their uid.
/// `None` as a value: the owner is known and has no controller of its own.
pub type Owners = HashMap<Arc<str>, Option<Controller>>;

/// The workload of a pod named `pod` whose controller is `ctrl`.
///
/// A ReplicaSet or Job not (yet) in `owners` stands for itself: the pod is still
/// labelled, one level short, until the watch delivers it.
pub fn workload(
    pod: &Arc<str>,
    ctrl: Option<&Controller>,
    owners: &Owners,
) -> (WorkloadKind, Arc<str>) {
    let Some(c) = ctrl else {
        return (WorkloadKind::Pod, pod.clone());
    };
    if matches!(c.kind, WorkloadKind::ReplicaSet | WorkloadKind::Job) {
        if let Some(Some(top)) = owners.get(&c.uid) {
            return (top.kind.clone(), top.name.clone());
        }
    }
    (c.kind.clone(), c.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oref(kind: &str, name: &str, uid: &str, controller: Option<bool>) -> OwnerReference {
        OwnerReference {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            name: name.into(),
            uid: uid.into(),
            controller,
            block_owner_deletion: None,
        }
    }

    fn intern(s: &str) -> Arc<str> {
        Arc::from(s)
    }

    #[test]
    fn controller_is_the_marked_owner_or_the_only_one() {
        let refs = [
            oref("ConfigMap", "cm", "u1", None),
            oref("ReplicaSet", "web-1", "u2", Some(true)),
        ];
        let c = controller_of(Some(&refs), &mut intern).expect("controller");
        assert_eq!((c.kind, &*c.name), (WorkloadKind::ReplicaSet, "web-1"));
        let one = [oref("StatefulSet", "db", "u3", None)];
        let c = controller_of(Some(&one), &mut intern).expect("only owner");
        assert_eq!(c.kind, WorkloadKind::StatefulSet);
        let two = [oref("A", "a", "1", None), oref("B", "b", "2", None)];
        assert_eq!(controller_of(Some(&two), &mut intern), None);
        assert_eq!(controller_of(None, &mut intern), None);
    }

    #[test]
    fn replicaset_resolves_to_its_deployment_when_known() {
        let pod: Arc<str> = Arc::from("web-1-abc");
        let rs = Controller {
            uid: "rs-uid".into(),
            kind: WorkloadKind::ReplicaSet,
            name: "web-1".into(),
        };
        let mut owners = Owners::new();
        assert_eq!(
            workload(&pod, Some(&rs), &owners),
            (WorkloadKind::ReplicaSet, Arc::from("web-1"))
        );
        owners.insert(
            "rs-uid".into(),
            Some(Controller {
                uid: "d-uid".into(),
                kind: WorkloadKind::Deployment,
                name: "web".into(),
            }),
        );
        assert_eq!(
            workload(&pod, Some(&rs), &owners),
            (WorkloadKind::Deployment, Arc::from("web"))
        );
        owners.insert("rs-uid".into(), None);
        assert_eq!(
            workload(&pod, Some(&rs), &owners).0,
            WorkloadKind::ReplicaSet
        );
        assert_eq!(
            workload(&pod, None, &owners),
            (WorkloadKind::Pod, pod.clone())
        );
    }
}
