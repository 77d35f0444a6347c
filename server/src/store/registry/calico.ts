/**
 * The `projectcalico.org/v3` kinds as the Calico API server serves them (aggregated API, default table convertor:
 * NAME and CREATED AT), and `operator.tigera.io/v1` EgressGateway (a CRD). On `oss` clusters the Enterprise-only fields
 * are absent from the schemas, so strict field validation rejects them as unknown, as Calico Open Source does.
 */
import type { CalicoEdition } from "../../sim/types.ts";
import type { JsonSchema, ResourceType } from "../types.ts";
import { k8sSchema } from "./k8s.ts";
import { ageColumn, ageOf, createdAtColumn, type Now } from "./columns.ts";
import { anyObject, arr, bool, int, intOrString, num, obj, str, strMap, topLevel } from "./schema.ts";

const GROUP = "projectcalico.org";
const VERSION = "v3";
const rw = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

const ports = (d: string) => arr(intOrString(), d);

function entityRule(ed: CalicoEdition): JsonSchema {
  return obj(
    {
      nets: arr(
        str(),
        "Nets is an optional field that restricts the rule to only apply to traffic that originates from (or terminates at) IP addresses in any of the given subnets.",
      ),
      notNets: arr(str(), "NotNets is the negated version of the Nets field."),
      selector: str(
        "Selector is an optional field that contains a selector expression (see Policy for sample syntax). Only traffic that originates from (terminates at) endpoints matching the selector will be matched.",
      ),
      notSelector: str(
        "NotSelector is the negated version of the Selector field. See Selector field for subtleties with negated selectors.",
      ),
      namespaceSelector: str(
        "NamespaceSelector is an optional field that contains a selector expression. Only traffic that originates from (or terminates at) endpoints within the selected namespaces will be matched.",
      ),
      ports: ports(
        "Ports is an optional field that restricts the rule to only apply to traffic that has a source (destination) port that matches one of these ranges/values. This value is a list of integers or strings that represent ranges of ports.",
      ),
      notPorts: ports("NotPorts is the negated version of the Ports field."),
      serviceAccounts: obj(
        {
          names: arr(
            str(),
            "Names is an optional field that restricts the rule to only apply to traffic that originates from (or terminates at) a pod running as a service account whose name is in the list.",
          ),
          selector: str(
            "Selector is an optional field that restricts the rule to only apply to traffic that originates from (or terminates at) a pod running as a service account that matches the given label selector.",
          ),
        },
        {
          description:
            "ServiceAccounts is an optional field that restricts the rule to only apply to traffic that originates from (or terminates at) a pod running as a matching service account.",
        },
      ),
      services: obj(
        {
          name: str("Name specifies the name of a Kubernetes Service to match."),
          namespace: str(
            "Namespace specifies the namespace of the given Service. If left empty, the rule will match within this policy's namespace.",
          ),
        },
        {
          description:
            "Services is an optional field that contains options for matching Kubernetes Services.",
        },
      ),
      ...(ed === "enterprise"
        ? {
            domains: arr(
              str(),
              "Domains is an optional field, valid for egress Allow rules only, that restricts the rule to apply only to traffic to one of the specified domains.",
            ),
          }
        : {}),
    },
    {
      description:
        "An EntityRule is a sub-component of a Rule comprising the match criteria specific to a particular entity (that is either the source or destination).",
    },
  );
}

const icmp = (d: string) =>
  obj(
    {
      type: int(
        "Match on a specific ICMP type. For example a value of 8 refers to ICMP Echo Request (i.e. pings).",
      ),
      code: int("Match on a specific ICMP code. If specified, the Type value must also be specified."),
    },
    { description: d },
  );

function rule(ed: CalicoEdition): JsonSchema {
  return obj(
    {
      action: str("Action to take on matched traffic: Allow, Deny, Log or Pass."),
      ipVersion: int(
        "IPVersion is an optional field that restricts the rule to only match a specific IP version.",
      ),
      protocol: intOrString(
        'Protocol is an optional field that restricts the rule to only apply to traffic of a specific IP protocol. Must be one of these string values: "TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite" or an integer in the range 1-255.',
      ),
      icmp: icmp(
        "ICMP is an optional field that restricts the rule to apply to a specific type and code of ICMP traffic.",
      ),
      notProtocol: intOrString("NotProtocol is the negated version of the Protocol field."),
      notICMP: icmp("NotICMP is the negated version of the ICMP field."),
      source: {
        ...entityRule(ed),
        description: "Source contains the match criteria that apply to source entity.",
      },
      destination: {
        ...entityRule(ed),
        description: "Destination contains the match criteria that apply to destination entity.",
      },
      http: obj(
        {
          methods: arr(
            str(),
            "Methods is an optional field that restricts the rule to apply only to HTTP requests that use one of the listed HTTP Methods.",
          ),
          paths: arr(
            obj({ exact: str(), prefix: str() }),
            "Paths is an optional field that restricts the rule to apply to HTTP requests that use one of the listed HTTP Paths.",
          ),
        },
        { description: "HTTP contains match criteria that apply to HTTP requests." },
      ),
      metadata: obj(
        {
          annotations: strMap(
            "Annotations is a set of key value pairs that give extra information about the rule",
          ),
        },
        { description: "Metadata contains additional information for this rule" },
      ),
    },
    { description: "A Rule encapsulates a set of match criteria and an action.", required: ["action"] },
  );
}

function policySpec(ed: CalicoEdition, global: boolean, staged: boolean): JsonSchema {
  const props: Record<string, JsonSchema> = {
    tier: str(
      'The name of the tier that this policy belongs to. If this is omitted, the default tier (name is "default") is assumed.',
    ),
    order: num(
      'Order is an optional field that specifies the order in which the policy is applied. Policies with higher "order" are applied after those with lower order within the same tier. If the order is omitted, it may be considered to be "infinite" - i.e. the policy will be applied last.',
    ),
    ingress: arr(
      rule(ed),
      "The ordered set of ingress rules. Each rule contains a set of packet match criteria and a corresponding action to apply.",
    ),
    egress: arr(
      rule(ed),
      "The ordered set of egress rules. Each rule contains a set of packet match criteria and a corresponding action to apply.",
    ),
    selector: str(
      "The selector is an expression used to pick out the endpoints that the policy should be applied to.",
    ),
    types: arr(str(), "Types indicates whether this policy applies to ingress, or to egress, or to both."),
    serviceAccountSelector: str(
      "ServiceAccountSelector is an optional field for an expression used to select a pod based on service accounts.",
    ),
    performanceHints: arr(
      str(),
      "PerformanceHints contains a list of hints to Calico's policy engine to help process the policy more efficiently.",
    ),
  };
  if (global) {
    props.namespaceSelector = str(
      "NamespaceSelector is an optional field for an expression used to select a pod based on namespaces.",
    );
    props.doNotTrack = bool(
      "DoNotTrack indicates whether packets matched by the rules in this policy should go through the data plane's connection tracking.",
    );
    props.preDNAT = bool("PreDNAT indicates to apply the rules in this policy before any DNAT.");
    props.applyOnForward = bool(
      "ApplyOnForward indicates to apply the rules in this policy on forward traffic.",
    );
  }
  if (staged) props.stagedAction = str("The staged action. If this is omitted, the default is Set.");
  return obj(props);
}

function knpSpec(): JsonSchema {
  const base = k8sSchema("V1NetworkPolicySpec");
  return {
    ...base,
    properties: {
      stagedAction: str("The staged action. If this is omitted, the default is Set."),
      ...(base.properties as Record<string, JsonSchema>),
    },
  };
}

const protoPort = obj({ protocol: str(), port: int(), net: str() }, { required: ["protocol", "port"] });
const duration = (d?: string) => str(d, { pattern: "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))*$" });

function felixSpec(ed: CalicoEdition): JsonSchema {
  const b = (d?: string) => bool(d);
  const s = (d?: string) => str(d);
  const i = (d?: string) => int(d);
  const props: Record<string, JsonSchema> = {
    useInternalDataplaneDriver: b(),
    dataplaneDriver: s(),
    dataplaneWatchdogTimeout: duration(),
    ipv6Support: b(),
    routeRefreshInterval: duration(),
    interfaceRefreshInterval: duration(),
    iptablesRefreshInterval: duration(),
    iptablesPostWriteCheckInterval: duration(),
    iptablesLockFilePath: s(),
    iptablesLockTimeout: duration(),
    iptablesLockProbeInterval: duration(),
    featureDetectOverride: s(),
    featureGates: s(),
    ipsetsRefreshInterval: duration(),
    maxIpsetSize: i(),
    iptablesBackend: s(),
    xdpRefreshInterval: duration(),
    netlinkTimeout: duration(),
    metadataAddr: s(),
    metadataPort: i(),
    openstackRegion: s(),
    interfacePrefix: s(),
    interfaceExclude: s(),
    chainInsertMode: s(),
    defaultEndpointToHostAction: s(),
    iptablesFilterAllowAction: s(),
    iptablesMangleAllowAction: s(),
    iptablesFilterDenyAction: s(),
    logPrefix: s(),
    logFilePath: s(),
    logSeverityFile: s(),
    logSeverityScreen: s(
      "LogSeverityScreen is the log severity above which logs are sent to the stdout. [Default: Info]",
    ),
    logSeveritySys: s(),
    logDebugFilenameRegex: s(),
    ipipEnabled: b(),
    ipipMTU: i(),
    vxlanEnabled: b(),
    vxlanMTU: i(),
    vxlanMTUV6: i(),
    vxlanPort: i(),
    vxlanVNI: i(),
    allowVXLANPacketsFromWorkloads: b(),
    allowIPIPPacketsFromWorkloads: b(),
    reportingInterval: duration(),
    reportingTTL: duration(),
    endpointReportingEnabled: b(),
    endpointReportingDelay: duration(),
    endpointStatusPathPrefix: s(),
    iptablesMarkMask: i(),
    disableConntrackInvalidCheck: b(),
    healthEnabled: b(),
    healthHost: s(),
    healthPort: i(),
    healthTimeoutOverrides: arr(obj({ name: s(), timeout: duration() }, { required: ["name", "timeout"] })),
    prometheusMetricsEnabled: b(),
    prometheusMetricsHost: s(),
    prometheusMetricsPort: i(),
    prometheusGoMetricsEnabled: b(),
    prometheusProcessMetricsEnabled: b(),
    prometheusWireGuardMetricsEnabled: b(),
    failsafeInboundHostPorts: arr(
      protoPort,
      "FailsafeInboundHostPorts is a list of ProtoPort struct objects including UDP/TCP/SCTP ports and CIDRs that Felix will allow incoming traffic to host endpoints on irrespective of the security policy.",
    ),
    failsafeOutboundHostPorts: arr(
      protoPort,
      "FailsafeOutboundHostPorts is a list of ProtoPort struct objects including UDP/TCP/SCTP ports and CIDRs that Felix will allow outgoing traffic from host endpoints to irrespective of the security policy.",
    ),
    kubeNodePortRanges: arr(intOrString()),
    policySyncPathPrefix: s(),
    usageReportingEnabled: b(),
    usageReportingInitialDelay: duration(),
    usageReportingInterval: duration(),
    natPortRange: intOrString(),
    natOutgoingAddress: s(),
    natOutgoingExclusions: s(),
    deviceRouteSourceAddress: s(),
    deviceRouteSourceAddressIPv6: s(),
    deviceRouteProtocol: i(),
    removeExternalRoutes: b(),
    ipForwarding: s(),
    externalNodesList: arr(s()),
    debugMemoryProfilePath: s(),
    debugDisableLogDropping: b(),
    debugSimulateCalcGraphHangAfter: duration(),
    debugSimulateDataplaneHangAfter: duration(),
    debugSimulateDataplaneApplyDelay: duration(),
    debugHost: s(),
    debugPort: i(),
    iptablesNATOutgoingInterfaceFilter: s(),
    sidecarAccelerationEnabled: b(),
    xdpEnabled: b(),
    genericXDPEnabled: b(),
    nftablesMode: s(),
    nftablesRefreshInterval: duration(),
    nftablesFilterAllowAction: s(),
    nftablesMangleAllowAction: s(),
    nftablesFilterDenyAction: s(),
    nftablesMarkMask: i(),
    bpfEnabled: b(),
    bpfDisableUnprivileged: b(),
    bpfLogLevel: s(),
    bpfLogFilters: strMap(),
    bpfCTLBLogFilter: s(),
    bpfDataIfacePattern: s(),
    bpfL3IfacePattern: s(),
    bpfConnectTimeLoadBalancingEnabled: b(),
    bpfConnectTimeLoadBalancing: s(),
    bpfHostNetworkedNATWithoutCTLB: s(),
    bpfExternalServiceMode: s(),
    bpfDSROptoutCIDRs: arr(s()),
    bpfExtToServiceConnmark: i(),
    bpfKubeProxyIptablesCleanupEnabled: b(),
    bpfKubeProxyMinSyncPeriod: duration(),
    bpfKubeProxyEndpointSlicesEnabled: b(),
    bpfPSNATPorts: intOrString(),
    bpfMapSizeNATFrontend: i(),
    bpfMapSizeNATBackend: i(),
    bpfMapSizeNATAffinity: i(),
    bpfMapSizeRoute: i(),
    bpfMapSizeConntrack: i(),
    bpfMapSizeIPSets: i(),
    bpfMapSizeIfState: i(),
    bpfHostConntrackBypass: b(),
    bpfEnforceRPF: s(),
    bpfPolicyDebugEnabled: b(),
    bpfForceTrackPacketsFromIfaces: arr(s()),
    bpfDisableGROForIfaces: s(),
    bpfExcludeCIDRsFromNAT: arr(s()),
    bpfRedirectToPeer: s(),
    bpfProfiling: s(),
    bpfAttachType: s(),
    bpfConntrackCleanupMode: s(),
    bpfConntrackLogLevel: s(),
    bpfConntrackTimeouts: anyObject(),
    bpfMaglevMaxEndpointsPerService: i(),
    bpfMaglevMaxServices: i(),
    bpfJITHardening: s(),
    bpfKubeProxyHealthzPort: i(),
    bpfExportBufferSizeMB: i(),
    routeSource: s(),
    routeTableRanges: arr(obj({ min: i(), max: i() })),
    routeTableRange: obj({ min: i(), max: i() }),
    routeSyncDisabled: b(),
    programClusterRoutes: s(),
    wireguardEnabled: b(),
    wireguardEnabledV6: b(),
    wireguardThreadingEnabled: b(),
    wireguardListeningPort: i(),
    wireguardListeningPortV6: i(),
    wireguardRoutingRulePriority: i(),
    wireguardInterfaceName: s(),
    wireguardInterfaceNameV6: s(),
    wireguardMTU: i(),
    wireguardMTUV6: i(),
    wireguardHostEncryptionEnabled: b(),
    wireguardKeepAlive: duration(),
    awsSrcDstCheck: s(),
    serviceLoopPrevention: s(),
    workloadSourceSpoofing: s(),
    mtuIfacePattern: s(),
    floatingIPs: s(),
    windowsManageFirewallRules: s(),
    goGCThreshold: i(),
    goMemoryLimitMB: i(),
    goMaxProcs: i(),
    requireMTUFile: b(),
    cgroupV2Path: s(),
    liveMigrationRouteConvergenceTime: duration(),
    flowLogsFlushInterval: duration(
      "FlowLogsFlushInterval configures the interval at which Felix exports flow logs. [Default: 5m0s]",
    ),
    flowLogsCollectorDebugTrace: b(),
    flowLogsGoldmaneServer: s(),
    flowLogsLocalReporter: s(),
    flowLogsPolicyEvaluationMode: s(),
    flowLogsPolicyScope: s(),
  };
  if (ed === "enterprise") {
    Object.assign(props, {
      egressIPSupport: s(
        "EgressIPSupport defines three different support modes for egress IP function. [Default: Disabled]",
      ),
      egressIPVXLANPort: i(),
      egressIPVXLANVNI: i(),
      egressIPRoutingRulePriority: i(),
      egressIPHostIfacePattern: s(),
      egressGatewayPollInterval: duration(),
      egressGatewayPollFailureCount: i(),
      externalNetworkSupport: s(),
      externalNetworkRoutingRulePriority: i(),
      dnsTrustedServers: arr(
        s(),
        "DNSTrustedServers specifies the names of the DNS servers that Felix should trust, for the purposes of DNS-based (domain name) policy. [Default: k8s-service:kube-dns]",
      ),
      dnsPolicyMode: s(),
      nftablesDNSPolicyMode: s(),
      bpfDNSPolicyMode: s(),
      dnsExtraTTL: duration(),
      dnsCacheFile: s(),
      dnsCacheSaveInterval: duration(),
      dnsCacheEpoch: i(),
      dnsPolicyNfqueueID: i(),
      dnsPolicyNfqueueSize: i(),
      dnsPacketsNfqueueID: i(),
      dnsPacketsNfqueueSize: i(),
      dnsPacketsNfqueueMaxHoldDuration: duration(),
      dnsLogsFlushInterval: duration(),
      dnsLogsFileEnabled: b(),
      dnsLogsFileMaxFiles: i(),
      dnsLogsFileMaxFileSizeMB: i(),
      dnsLogsFileDirectory: s(),
      dnsLogsFileIncludeLabels: b(),
      dnsLogsFileAggregationKind: i(),
      dnsLogsFilePerNodeLimit: i(),
      dnsLogsLatency: b(),
      windowsDnsExtraTTL: duration(),
      windowsDNSCacheFile: s(),
      flowLogsFileEnabled: b(),
      flowLogsFileMaxFiles: i(),
      flowLogsFileMaxFileSizeMB: i(),
      flowLogsFileDirectory: s(),
      flowLogsFileIncludeLabels: b(),
      flowLogsFileIncludePolicies: b(),
      flowLogsFileIncludeService: b(),
      flowLogsFileAggregationKindForAllowed: i(),
      flowLogsFileAggregationKindForDenied: i(),
      flowLogsFileNatOutgoingPortLimit: i(),
      flowLogsFilePerFlowProcessLimit: i(),
      flowLogsFilePerFlowProcessArgsLimit: i(),
      flowLogsFileDomainsLimit: i(),
      flowLogsEnableHostEndpoint: b(),
      flowLogsEnableNetworkSets: b(),
      flowLogsMaxOriginalIPsIncluded: i(),
      flowLogsDynamicAggregationEnabled: b(),
      flowLogsPositionFilePath: s(),
      flowLogsAggregationThresholdBytes: i(),
      flowLogsCollectProcessInfo: b(),
      flowLogsCollectProcessPath: b(),
      flowLogsCollectTcpStats: b(),
      l7LogsFlushInterval: duration(),
      l7LogsFileEnabled: b(),
      l7LogsFileDirectory: s(),
      l7LogsFileMaxFiles: i(),
      l7LogsFileMaxFileSizeMB: i(),
      l7LogsFileAggregationHTTPHeaderInfo: s(),
      l7LogsFileAggregationHTTPMethod: s(),
      l7LogsFileAggregationServiceInfo: s(),
      l7LogsFileAggregationDestinationInfo: s(),
      l7LogsFileAggregationSourceInfo: s(),
      l7LogsFileAggregationResponseCode: s(),
      l7LogsFileAggregationTrimURL: s(),
      l7LogsFileAggregationNumURLPath: i(),
      l7LogsFileAggregationURLCharLimit: i(),
      l7LogsFilePerNodeLimit: i(),
      statsDumpFilePath: s(),
      prometheusReporterEnabled: b(),
      prometheusReporterPort: i(),
      prometheusReporterCertFile: s(),
      prometheusReporterKeyFile: s(),
      prometheusReporterCAFile: s(),
      deletedMetricsRetentionSecs: duration(),
      ipsecMode: s(),
      ipsecAllowUnsecuredTraffic: b(),
      ipsecIKEAlgorithm: s(),
      ipsecESPAlgorithm: s(),
      ipsecLogLevel: s(),
      ipsecPolicyRefreshInterval: duration(),
      tproxyMode: s(),
      tproxyPort: i(),
      tproxyUpstreamConnMark: i(),
      captureDir: s(),
      captureMaxSizeBytes: i(),
      captureRotationSeconds: i(),
      captureMaxFiles: i(),
      cloudWatchLogsReporterEnabled: b(),
      cloudWatchMetricsReporterEnabled: b(),
      awsSecondaryIPSupport: s(),
      awsSecondaryIPRoutingRulePriority: i(),
      awsRequestTimeout: duration(),
      wafEventLogsFlushInterval: duration(),
    });
  }
  return obj(props, {
    description: "FelixConfigurationSpec contains the values of the Felix configuration.",
  });
}

function ippoolSpec(ed: CalicoEdition): JsonSchema {
  return obj(
    {
      cidr: str("The pool CIDR."),
      vxlanMode: str(
        'Contains configuration for VXLAN tunneling for this pool. If not specified, then this is defaulted to "Never" (i.e. VXLAN tunneling is disabled).',
      ),
      ipipMode: str(
        'Contains configuration for IPIP tunneling for this pool. If not specified, then this is defaulted to "Never" (i.e. IPIP tunneling is disabled).',
      ),
      natOutgoing: bool(
        "When natOutgoing is true, packets sent from Calico networked containers in this pool to destinations outside of this pool will be masqueraded.",
      ),
      disabled: bool("When disabled is true, Calico IPAM will not assign addresses from this pool."),
      disableBGPExport: bool("Disable exporting routes from this IP Pool's CIDR over BGP. [Default: false]"),
      blockSize: int(
        "The block size to use for IP address assignments from this pool. Defaults to 26 for IPv4 and 122 for IPv6.",
      ),
      nodeSelector: str("Allows IPPool to allocate for a specific node by label selector."),
      namespaceSelector: str("Allows IPPool to allocate for a specific namespace by label selector."),
      allowedUses: arr(
        str(),
        'AllowedUse controls what the IP pool will be used for. If not specified or empty, defaults to ["Tunnel", "Workload"] for back-compatibility',
      ),
      assignmentMode: str("Determines the mode how IP addresses should be assigned from this pool"),
      ipip: obj(
        { enabled: bool(), mode: str() },
        {
          description:
            "Deprecated: this field is only used for APIv1 backwards compatibility. Setting this field is not allowed, this field is for internal use only.",
        },
      ),
      "nat-outgoing": bool(
        "Deprecated: this field is only used for APIv1 backwards compatibility. Setting this field is not allowed, this field is for internal use only.",
      ),
      ...(ed === "enterprise"
        ? {
            awsSubnetID: str(
              "AWSSubnetID if specified Calico will attempt to ensure that IPs chosen from this IP pool are routed to the corresponding node by adding one or more secondary ENIs to the node and explicitly assigning the IP to one of the secondary ENIs.",
            ),
          }
        : {}),
    },
    { description: "IPPoolSpec contains the specification for an IPPool resource.", required: ["cidr"] },
  );
}

function egressGatewaySpec(): JsonSchema {
  const probe = (what: string) =>
    obj({
      [what]: arr(str()),
      intervalSeconds: int(),
      timeoutSeconds: int(),
    });
  return obj(
    {
      replicas: int("Replicas defines how many instances of the Egress Gateway pod will run."),
      ipPools: arr(
        obj({
          name: str("Name is the name of the IPPool that the Egress Gateways can use."),
          cidr: str("CIDR is the IPPool CIDR that the Egress Gateways can use."),
        }),
        "IPPools defines the IP Pools that the Egress Gateway pods should be using. Either name or CIDR must be specified. IPPools must match existing IPPools.",
      ),
      externalNetworks: arr(
        str(),
        "ExternalNetworks defines the external network names this Egress Gateway is associated with.",
      ),
      logSeverity: str("LogSeverity defines the logging level of the Egress Gateway. Default: Info"),
      template: obj(
        {
          metadata: obj({
            labels: strMap(
              "Labels is a map of string keys and values that may match replica set and service selectors.",
            ),
            annotations: strMap("Annotations is a map of arbitrary non-identifying metadata."),
          }),
          spec: obj({
            nodeSelector: strMap(
              "NodeSelector gives more control over the nodes where the Egress Gateway pods will run on.",
            ),
            affinity: k8sSchema("V1Affinity"),
            tolerations: arr(k8sSchema("V1Toleration")),
            topologySpreadConstraints: arr(k8sSchema("V1TopologySpreadConstraint")),
            terminationGracePeriodSeconds: int(),
            priorityClassName: str(),
            containers: arr(
              obj({ name: str(), resources: k8sSchema("V1ResourceRequirements") }, { required: ["name"] }),
            ),
            initContainers: arr(
              obj({ name: str(), resources: k8sSchema("V1ResourceRequirements") }, { required: ["name"] }),
            ),
          }),
        },
        { description: "Template describes the EGW Deployment pod that will be created." },
      ),
      egressGatewayFailureDetection: obj({
        healthTimeoutDataStoreSeconds: int(
          "HealthTimeoutDataStoreSeconds defines how far behind the Egress Gateway can be from the datastore before it reports not ready. Default: 90",
        ),
        icmpProbe: probe("ips"),
        httpProbe: probe("urls"),
      }),
      aws: obj({ nativeIP: str(), elasticIPs: arr(str()) }),
    },
    { description: "EgressGatewaySpec defines the desired state of EgressGateway", required: ["ipPools"] },
  );
}

function egwPolicySpec(): JsonSchema {
  return obj({
    rules: arr(
      obj({
        destination: obj({ cidr: str("The destination network CIDR.") }),
        description: str(),
        gateway: obj({
          namespaceSelector: str(),
          selector: str(),
          maxNextHops: int(),
        }),
        gatewayPreference: str(
          "GatewayPreference specifies which egress gateways to use. If set to PreferNodeLocal, egress gateways in the same node as the client will be used if available. Otherwise all the active egress gateways will be used.",
        ),
      }),
      "The ordered set of Egress Gateway Policies to define how traffic exit a cluster",
    ),
  });
}

/** The ObjectMeta schema shared by every kind. */
const meta = (): JsonSchema => k8sSchema("V1ObjectMeta");

function calicoKind(
  ed: CalicoEdition,
  now: Now,
  k: string,
  plural: string,
  namespaced: boolean,
  spec: JsonSchema,
  description: string,
  shortNames: string[] = [],
  extra: Partial<ResourceType> = {},
): ResourceType {
  void now;
  return {
    group: GROUP,
    version: VERSION,
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    namespaced,
    shortNames,
    categories: [],
    verbs: rw,
    subresources: [],
    schema: topLevel(GROUP, VERSION, k, description, meta(), { spec }),
    columns: [createdAtColumn()],
    ...(ed === "enterprise" && extra.edition ? { edition: "enterprise" as const } : {}),
    ...extra,
  };
}

function conditionStatus(type: string) {
  return (o: { status?: unknown }) => {
    const conds =
      (
        o.status as
          { conditions?: { type?: string; status?: string; lastTransitionTime?: string }[] } | undefined
      )?.conditions ?? [];
    return conds.find((c) => c.type === type)?.status ?? "";
  };
}

/** An operator.tigera.io/v1 CRD with an open spec (the operator's own API, beyond what the simulator models). */
function operatorKind(
  k: string,
  plural: string,
  namespaced: boolean,
  description: string,
  columns: ResourceType["columns"],
  shortNames: string[] = [],
): ResourceType {
  return {
    group: "operator.tigera.io",
    version: "v1",
    kind: k,
    listKind: `${k}List`,
    plural,
    singular: k.toLowerCase(),
    namespaced,
    shortNames,
    categories: [],
    verbs: rw,
    subresources: ["status"],
    schema: topLevel("operator.tigera.io", "v1", k, description, meta(), {
      spec: anyObject(`${k}Spec defines the desired state of ${k}.`),
      status: anyObject(`${k}Status defines the observed state of ${k}.`),
    }),
    columns,
  };
}

/** The tigera-operator's kinds served on every cluster (the operator installs Calico in both editions). */
export function operatorTypes(now: Now): ResourceType[] {
  return [
    operatorKind(
      "Installation",
      "installations",
      false,
      "Installation configures an installation of Calico or Calico Enterprise.",
      [ageColumn(now)],
    ),
    operatorKind(
      "APIServer",
      "apiservers",
      false,
      "APIServer installs the Tigera API server and related resources.",
      [ageColumn(now)],
    ),
    operatorKind("Goldmane", "goldmanes", false, "Goldmane is the flow aggregator of Calico.", [
      ageColumn(now),
    ]),
    operatorKind("Whisker", "whiskers", false, "Whisker is the flow log UI of Calico.", [ageColumn(now)]),
    operatorKind(
      "TigeraStatus",
      "tigerastatuses",
      false,
      "TigeraStatus represents the most recently observed status for Calico or a Calico Enterprise functional area.",
      [
        {
          name: "Available",
          type: "string",
          priority: 0,
          description: "Whether the component running and stable.",
          value: conditionStatus("Available"),
        },
        {
          name: "Progressing",
          type: "string",
          priority: 0,
          description: "Whether the component is processing changes.",
          value: conditionStatus("Progressing"),
        },
        {
          name: "Degraded",
          type: "string",
          priority: 0,
          description: "Whether the component is degraded.",
          value: conditionStatus("Degraded"),
        },
        {
          name: "Since",
          type: "date",
          priority: 0,
          description: "The time the component's Available status last changed.",
          value: (o) => {
            const conds =
              (o.status as { conditions?: { type?: string; lastTransitionTime?: string }[] } | undefined)
                ?.conditions ?? [];
            const ts = conds.find((c) => c.type === "Available")?.lastTransitionTime;
            return ts ? ageOf(ts, now()) : "";
          },
        },
      ],
    ),
  ];
}

/** The Calico kinds a cluster of this edition serves (the Enterprise-only kinds only on `enterprise`). */
export function calicoTypes(ed: CalicoEdition, now: Now): ResourceType[] {
  const types: ResourceType[] = [
    calicoKind(
      ed,
      now,
      "Tier",
      "tiers",
      false,
      obj({
        order: num(
          'Order is an optional field that specifies the order in which the tier is applied. Tiers with higher "order" are applied after those with lower order. If the order is omitted, it may be considered to be "infinite" - i.e. the tier will be applied last.',
        ),
        defaultAction: str(
          "DefaultAction specifies the action applied to workloads selected by a policy in the tier, but not rule matched the workload's traffic. [Default: Deny]",
        ),
      }),
      "Tier contains a set of policies that are applied to packets. Multiple tiers may be created and each tier is applied in the order specified in the tier specification.",
    ),
    calicoKind(
      ed,
      now,
      "NetworkPolicy",
      "networkpolicies",
      true,
      policySpec(ed, false, false),
      "NetworkPolicy is the Namespaced-equivalent of the GlobalNetworkPolicy.",
      ["cnp", "caliconetworkpolicy", "caliconetworkpolicies"],
    ),
    calicoKind(
      ed,
      now,
      "GlobalNetworkPolicy",
      "globalnetworkpolicies",
      false,
      policySpec(ed, true, false),
      "GlobalNetworkPolicy contains information about a security Policy resource. This contains a set of security rules to apply.",
      ["gnp", "cgnp", "calicoglobalnetworkpolicies"],
    ),
    calicoKind(
      ed,
      now,
      "StagedNetworkPolicy",
      "stagednetworkpolicies",
      true,
      policySpec(ed, false, true),
      "StagedNetworkPolicy is a staged NetworkPolicy.",
      ["snp"],
    ),
    calicoKind(
      ed,
      now,
      "StagedGlobalNetworkPolicy",
      "stagedglobalnetworkpolicies",
      false,
      policySpec(ed, true, true),
      "StagedGlobalNetworkPolicy is a staged GlobalNetworkPolicy.",
      ["sgnp"],
    ),
    calicoKind(
      ed,
      now,
      "StagedKubernetesNetworkPolicy",
      "stagedkubernetesnetworkpolicies",
      true,
      knpSpec(),
      "StagedKubernetesNetworkPolicy is a staged Kubernetes NetworkPolicy.",
      ["sknp"],
    ),
    calicoKind(
      ed,
      now,
      "NetworkSet",
      "networksets",
      true,
      obj({
        nets: arr(str(), "The list of IP networks that belong to this set."),
        ...(ed === "enterprise"
          ? {
              allowedEgressDomains: arr(
                str(),
                "The list of domain names that belong to this set and are honored in egress allow rules only. Domain names specified here only work to allow egress traffic from the cluster to external destinations. They don't work to _deny_ traffic to destinations specified by domain name, or to allow ingress traffic from _sources_ specified by domain name.",
              ),
            }
          : {}),
      }),
      "NetworkSet is the Namespaced-equivalent of the GlobalNetworkSet.",
      ["netsets"],
    ),
    calicoKind(
      ed,
      now,
      "GlobalNetworkSet",
      "globalnetworksets",
      false,
      obj({
        nets: arr(str(), "The list of IP networks that belong to this set."),
        ...(ed === "enterprise"
          ? {
              allowedEgressDomains: arr(
                str(),
                "The list of domain names that belong to this set and are honored in egress allow rules only.",
              ),
            }
          : {}),
      }),
      "GlobalNetworkSet contains a set of arbitrary IP sub-networks/CIDRs that share labels to allow rules to refer to them via selectors.",
    ),
    calicoKind(
      ed,
      now,
      "FelixConfiguration",
      "felixconfigurations",
      false,
      felixSpec(ed),
      "Felix Configuration contains the configuration for Felix.",
      ["felixconfig", "felixconfigs"],
    ),
    calicoKind(
      ed,
      now,
      "IPPool",
      "ippools",
      false,
      ippoolSpec(ed),
      "IPPool contains information about an IPPool resource.",
    ),
  ];
  if (ed === "enterprise") {
    types.push(
      calicoKind(
        ed,
        now,
        "EgressGatewayPolicy",
        "egressgatewaypolicies",
        false,
        egwPolicySpec(),
        "EgressGatewayPolicy defines how traffic is routed through egress gateways.",
        [],
        { edition: "enterprise" },
      ),
      {
        group: "operator.tigera.io",
        version: "v1",
        kind: "EgressGateway",
        listKind: "EgressGatewayList",
        plural: "egressgateways",
        singular: "egressgateway",
        namespaced: true,
        shortNames: [],
        categories: [],
        verbs: rw,
        subresources: ["status"],
        schema: topLevel(
          "operator.tigera.io",
          "v1",
          "EgressGateway",
          "EgressGateway is the Schema for the egressgateways API",
          meta(),
          {
            spec: egressGatewaySpec(),
            status: obj(
              { state: str(), conditions: arr(k8sSchema("V1Condition")) },
              { description: "EgressGatewayStatus defines the observed state of EgressGateway" },
            ),
          },
        ),
        columns: [ageColumn(now)],
        edition: "enterprise",
      },
    );
  }
  return types;
}
