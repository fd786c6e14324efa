//! The operations the API serves, parsed from `X-Amz-Target` before anything else;
//! the enum also names spans and metric labels. Most are DynamoDB's; the auto scaling
//! of provisioned capacity is also served as Application Auto Scaling's calls, so that
//! its clients can point at Rotor too.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateTable,
    DeleteTable,
    DescribeTable,
    ListTables,
    UpdateTable,
    PutItem,
    GetItem,
    UpdateItem,
    DeleteItem,
    Query,
    Scan,
    BatchGetItem,
    BatchWriteItem,
    UpdateTableReplicaAutoScaling,
    DescribeTableReplicaAutoScaling,
    RegisterScalableTarget,
    DeregisterScalableTarget,
    DescribeScalableTargets,
    PutScalingPolicy,
    DeleteScalingPolicy,
    DescribeScalingPolicies,
    DescribeScalingActivities,
}

/// Which API an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `DynamoDB_20120810.*`, JSON 1.0.
    DynamoDb,
    /// `AnyScaleFrontendService.*`, JSON 1.1.
    ApplicationAutoScaling,
}

impl Service {
    fn target_prefix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DynamoDB_20120810.",
            Service::ApplicationAutoScaling => "AnyScaleFrontendService.",
        }
    }

    /// The response's content type.
    pub fn content_type(self) -> &'static str {
        match self {
            Service::DynamoDb => "application/x-amz-json-1.0",
            Service::ApplicationAutoScaling => "application/x-amz-json-1.1",
        }
    }
}

impl Operation {
    pub const ALL: [Operation; 22] = [
        Operation::CreateTable,
        Operation::DeleteTable,
        Operation::DescribeTable,
        Operation::ListTables,
        Operation::UpdateTable,
        Operation::PutItem,
        Operation::GetItem,
        Operation::UpdateItem,
        Operation::DeleteItem,
        Operation::Query,
        Operation::Scan,
        Operation::BatchGetItem,
        Operation::BatchWriteItem,
        Operation::UpdateTableReplicaAutoScaling,
        Operation::DescribeTableReplicaAutoScaling,
        Operation::RegisterScalableTarget,
        Operation::DeregisterScalableTarget,
        Operation::DescribeScalableTargets,
        Operation::PutScalingPolicy,
        Operation::DeleteScalingPolicy,
        Operation::DescribeScalingPolicies,
        Operation::DescribeScalingActivities,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateTable => "CreateTable",
            Operation::DeleteTable => "DeleteTable",
            Operation::DescribeTable => "DescribeTable",
            Operation::ListTables => "ListTables",
            Operation::UpdateTable => "UpdateTable",
            Operation::PutItem => "PutItem",
            Operation::GetItem => "GetItem",
            Operation::UpdateItem => "UpdateItem",
            Operation::DeleteItem => "DeleteItem",
            Operation::Query => "Query",
            Operation::Scan => "Scan",
            Operation::BatchGetItem => "BatchGetItem",
            Operation::BatchWriteItem => "BatchWriteItem",
            Operation::UpdateTableReplicaAutoScaling => "UpdateTableReplicaAutoScaling",
            Operation::DescribeTableReplicaAutoScaling => "DescribeTableReplicaAutoScaling",
            Operation::RegisterScalableTarget => "RegisterScalableTarget",
            Operation::DeregisterScalableTarget => "DeregisterScalableTarget",
            Operation::DescribeScalableTargets => "DescribeScalableTargets",
            Operation::PutScalingPolicy => "PutScalingPolicy",
            Operation::DeleteScalingPolicy => "DeleteScalingPolicy",
            Operation::DescribeScalingPolicies => "DescribeScalingPolicies",
            Operation::DescribeScalingActivities => "DescribeScalingActivities",
        }
    }

    pub fn service(self) -> Service {
        match self {
            Operation::RegisterScalableTarget
            | Operation::DeregisterScalableTarget
            | Operation::DescribeScalableTargets
            | Operation::PutScalingPolicy
            | Operation::DeleteScalingPolicy
            | Operation::DescribeScalingPolicies
            | Operation::DescribeScalingActivities => Service::ApplicationAutoScaling,
            _ => Service::DynamoDb,
        }
    }

    /// Parses an `X-Amz-Target` header value.
    pub fn from_target(target: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| {
            target
                .strip_prefix(op.service().target_prefix())
                .is_some_and(|name| name == op.name())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_name_an_operation_of_their_own_service_only() {
        assert_eq!(
            Operation::from_target("DynamoDB_20120810.PutItem"),
            Some(Operation::PutItem)
        );
        assert_eq!(
            Operation::from_target("AnyScaleFrontendService.PutScalingPolicy"),
            Some(Operation::PutScalingPolicy)
        );
        assert_eq!(
            Operation::from_target("DynamoDB_20120810.UpdateTableReplicaAutoScaling"),
            Some(Operation::UpdateTableReplicaAutoScaling)
        );
        assert_eq!(
            Operation::from_target("AnyScaleFrontendService.PutItem"),
            None
        );
        assert_eq!(
            Operation::from_target("DynamoDB_20120810.RegisterScalableTarget"),
            None
        );
    }
}
