//! The kinds Causeway's catalog understands, in Backstage's `backstage.io/v1alpha1` model: which
//! `apiVersion`s each accepts, which `spec` fields it requires, and which fields are references
//! that become relations.

/// The shape a `spec` field must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A non-empty string.
    Text,
    /// A list of non-empty strings (possibly empty).
    TextList,
    /// An object.
    Object,
    /// A list.
    List,
    /// An object or a list (Template parameters).
    ObjectOrList,
    /// One of the given strings.
    OneOf(&'static [&'static str]),
}

/// A relation a reference field produces: the type on the referring entity and the reverse type
/// on the referenced one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    pub forward: &'static str,
    pub reverse: &'static str,
    /// The kind assumed when the reference leaves it out.
    pub default_kind: &'static str,
}

/// One `spec` field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
    pub relation: Option<Relation>,
}

/// A kind and its rules.
#[derive(Debug)]
pub struct Kind {
    pub name: &'static str,
    pub api_versions: &'static [&'static str],
    pub fields: &'static [Field],
}

const fn field(name: &'static str, shape: Shape, required: bool) -> Field {
    Field {
        name,
        shape,
        required,
        relation: None,
    }
}

const fn reference(
    name: &'static str,
    shape: Shape,
    required: bool,
    forward: &'static str,
    reverse: &'static str,
    default_kind: &'static str,
) -> Field {
    Field {
        name,
        shape,
        required,
        relation: Some(Relation {
            forward,
            reverse,
            default_kind,
        }),
    }
}

use Shape::{List, Object, ObjectOrList, OneOf, Text, TextList};

const V1: &[&str] = &["backstage.io/v1alpha1"];
const V1_OR_BETA: &[&str] = &["backstage.io/v1alpha1", "backstage.io/v1beta1"];

const OWNER: Field = reference("owner", Text, true, "ownedBy", "ownerOf", "Group");
const SYSTEM: Field = reference("system", Text, false, "partOf", "hasPart", "System");
const DEPENDS_ON: Field = reference(
    "dependsOn",
    TextList,
    false,
    "dependsOn",
    "dependencyOf",
    "Component",
);
const DEPENDENCY_OF: Field = reference(
    "dependencyOf",
    TextList,
    false,
    "dependencyOf",
    "dependsOn",
    "Component",
);

/// Every supported kind.
pub static KINDS: &[Kind] = &[
    Kind {
        name: "Component",
        api_versions: V1_OR_BETA,
        fields: &[
            field("type", Text, true),
            field("lifecycle", Text, true),
            OWNER,
            SYSTEM,
            reference(
                "subcomponentOf",
                Text,
                false,
                "partOf",
                "hasPart",
                "Component",
            ),
            reference(
                "providesApis",
                TextList,
                false,
                "providesApi",
                "apiProvidedBy",
                "API",
            ),
            reference(
                "consumesApis",
                TextList,
                false,
                "consumesApi",
                "apiConsumedBy",
                "API",
            ),
            DEPENDS_ON,
            DEPENDENCY_OF,
        ],
    },
    Kind {
        name: "API",
        api_versions: V1,
        fields: &[
            field("type", Text, true),
            field("lifecycle", Text, true),
            OWNER,
            field("definition", Text, true),
            SYSTEM,
        ],
    },
    Kind {
        name: "Resource",
        api_versions: V1,
        fields: &[
            field("type", Text, true),
            OWNER,
            SYSTEM,
            DEPENDS_ON,
            DEPENDENCY_OF,
        ],
    },
    Kind {
        name: "System",
        api_versions: V1,
        fields: &[
            OWNER,
            reference("domain", Text, false, "partOf", "hasPart", "Domain"),
            field("type", Text, false),
        ],
    },
    Kind {
        name: "Domain",
        api_versions: V1,
        fields: &[
            OWNER,
            reference("subdomainOf", Text, false, "partOf", "hasPart", "Domain"),
            field("type", Text, false),
        ],
    },
    Kind {
        name: "Group",
        api_versions: V1_OR_BETA,
        fields: &[
            field("type", Text, true),
            field("profile", Object, false),
            reference("parent", Text, false, "childOf", "parentOf", "Group"),
            reference("children", TextList, true, "parentOf", "childOf", "Group"),
            reference("members", TextList, false, "hasMember", "memberOf", "User"),
        ],
    },
    Kind {
        name: "User",
        api_versions: V1_OR_BETA,
        fields: &[
            field("profile", Object, false),
            reference("memberOf", TextList, true, "memberOf", "hasMember", "Group"),
        ],
    },
    Kind {
        name: "Location",
        api_versions: V1_OR_BETA,
        fields: &[
            field("type", Text, false),
            field("target", Text, false),
            field("targets", TextList, false),
            field("presence", OneOf(&["required", "optional"]), false),
        ],
    },
    Kind {
        name: "Template",
        api_versions: &["scaffolder.backstage.io/v1beta3"],
        fields: &[
            field("type", Text, true),
            field("steps", List, true),
            field("parameters", ObjectOrList, false),
            field("output", Object, false),
            field("lifecycle", Text, false),
            reference("owner", Text, false, "ownedBy", "ownerOf", "Group"),
        ],
    },
];

/// The kind named `name` (case-insensitive, as Backstage compares kinds).
pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// The names of every kind, for messages.
pub fn names() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}
