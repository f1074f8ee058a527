"""Every wire structure of RFC 9420, each declared once (see ``accord.mls.codec``)."""

from accord.mls.structs.credential import (
    ApplicationId,
    Capabilities,
    Certificate,
    Credential,
    Extension,
    Extensions,
    ExternalPub,
    ExternalSender,
    ExternalSenders,
    RequiredCapabilities,
    find_extension,
)
from accord.mls.structs.enums import (
    ContentType,
    CredentialType,
    ExtensionType,
    LeafNodeSource,
    NodeType,
    ProposalType,
    ProtocolVersion,
    PSKType,
    ResumptionPSKUsage,
    SenderType,
    WireFormat,
    is_grease,
)
from accord.mls.structs.group_context import GroupContext, KeyPackage
from accord.mls.structs.messages import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ConfirmedTranscriptHashInput,
    Content,
    FramedContent,
    FramedContentTBS,
    InterimTranscriptHashInput,
    MLSMessage,
    PrivateContentAAD,
    PrivateMessage,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
)
from accord.mls.structs.proposals import (
    PROPOSAL_CLASSES,
    PROPOSAL_TYPE,
    Add,
    Commit,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    ProposalOrRef,
    ReInit,
    Remove,
    Update,
)
from accord.mls.structs.tree_nodes import (
    HPKECiphertext,
    LeafNode,
    LeafNodeHashInput,
    Lifetime,
    Node,
    ParentHashInput,
    ParentNode,
    ParentNodeHashInput,
    RatchetTree,
    TreeHashInput,
    UpdatePath,
    UpdatePathNode,
)
from accord.mls.structs.welcome import (
    EncryptedGroupSecrets,
    GroupInfo,
    GroupSecrets,
    PathSecret,
    Welcome,
)

__all__ = [name for name in dir() if not name.startswith("_")]
