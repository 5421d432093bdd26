use prost::Message as _;

use super::*;

#[test]
fn embedded_descriptor_set_decodes_and_describes_the_service() {
    let fds = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET)
        .expect("the embedded descriptor set decodes");
    let file = fds
        .file
        .iter()
        .find(|f| f.package() == "ractor_grpc.v1")
        .expect("the ractor_grpc.v1 package is present");
    let service = file
        .service
        .iter()
        .find(|s| s.name() == "ClusterNode")
        .expect("ClusterNode is present");
    let session = service
        .method
        .iter()
        .find(|m| m.name() == "Session")
        .expect("Session is present");
    assert!(session.client_streaming() && session.server_streaming());
    for unary in ["GetNodeInfo", "ListPeers"] {
        let m = service
            .method
            .iter()
            .find(|m| m.name() == unary)
            .expect("unary method is present");
        assert!(!m.client_streaming() && !m.server_streaming(), "{unary}");
    }
    assert_eq!(
        format!("{}.{}", file.package(), service.name()),
        CLUSTER_NODE_SERVICE
    );
}
