//! Resource names joist reasons about. Any other name (an extended resource such as
//! `example.com/foo`) is handled the same way; these are the ones the core or a provider names.

/// CPU, in cores (`500m` is half a core).
pub const CPU: &str = "cpu";
/// Memory, in bytes.
pub const MEMORY: &str = "memory";
/// Node-local ephemeral storage, in bytes.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// Pod slots: every pod requests one (spec core §2.7) and nodes advertise how many they hold.
pub const PODS: &str = "pods";
/// Prefix of huge page resources (`hugepages-2Mi`, `hugepages-1Gi`); one of the few resource
/// families that pod-level `spec.resources` may set.
pub const HUGEPAGES_PREFIX: &str = "hugepages-";
/// NVIDIA GPUs, advertised by the NVIDIA device plugin.
pub const NVIDIA_GPU: &str = "nvidia.com/gpu";
/// AMD GPUs, advertised by the AMD device plugin.
pub const AMD_GPU: &str = "amd.com/gpu";
/// AWS Inferentia/Trainium devices, advertised by the Neuron device plugin.
pub const AWS_NEURON: &str = "aws.amazon.com/neuron";
/// AWS Neuron cores (several per Neuron device), advertised by the Neuron device plugin.
pub const AWS_NEURON_CORE: &str = "aws.amazon.com/neuroncore";
/// Intel Habana Gaudi accelerators.
pub const HABANA_GAUDI: &str = "habana.ai/gaudi";
/// Elastic Fabric Adapter interfaces, advertised by the EFA device plugin.
pub const AWS_EFA: &str = "vpc.amazonaws.com/efa";
/// Branch network interfaces for security groups per pod (VPC CNI).
pub const AWS_POD_ENI: &str = "vpc.amazonaws.com/pod-eni";
/// Secondary private IPv4 addresses for Windows pods (VPC resource controller).
pub const AWS_PRIVATE_IPV4_ADDRESS: &str = "vpc.amazonaws.com/PrivateIPv4Address";
