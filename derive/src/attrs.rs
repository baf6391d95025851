//! Parsing `#[bao(...)]` and the `#[serde(...)]` attributes that change stored names.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, ExprArray, Lit, LitInt, LitStr};

/// A list of field names with the span to blame.
pub struct NameList {
    pub names: Vec<(String, Span)>,
}

pub struct IndexAttr {
    pub name: LitStr,
    pub gsi: LitInt,
    pub gsi_value: u8,
    pub pk: NameList,
    pub sk: Option<NameList>,
    pub span: Span,
}

#[derive(Default)]
pub struct ContainerAttrs {
    pub prefix: Option<LitStr>,
    pub global: bool,
    pub pk: Option<NameList>,
    pub sk: Option<NameList>,
    pub indexes: Vec<IndexAttr>,
    pub rename_all: Option<LitStr>,
    /// `#[serde(tag = "..")]`: serde writes this name as an extra field.
    pub tag: Option<LitStr>,
    pub iterable: Option<IterableAttr>,
    pub uniques: Vec<crate::unique::UniqueAttr>,
    /// `#[bao(patch)]`: generate `<Model>Patch`.
    pub patch: bool,
    /// `#[bao(new)]`: generate `Model::new` taking the fields dynabao does not manage.
    pub new: bool,
}

pub struct IterableAttr {
    pub gsi: LitInt,
    pub gsi_value: u8,
    pub buckets: u16,
}

#[derive(Default)]
pub struct FieldAttrs {
    pub pk: Option<Span>,
    pub sk: Option<Span>,
    pub auto: Option<Span>,
    pub created_at: Option<Span>,
    pub updated_at: Option<Span>,
    pub version: Option<Span>,
    pub ttl: Option<Span>,
    /// The name serde writes the field under (`rename = ".."` or `rename(serialize = "..")`).
    pub rename: Option<String>,
    /// Every name a serde attribute of the field gives it, read or written (`rename` in all its
    /// forms, `alias`), with the literal to blame.
    pub serde_names: Vec<(String, Span)>,
    pub skipped: Option<Span>,
}

fn name_list(expr: &Expr) -> syn::Result<NameList> {
    match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Ok(NameList {
                names: vec![(s.value(), s.span())],
            }),
            other => Err(syn::Error::new(
                other.span(),
                "expected a field name string",
            )),
        },
        Expr::Array(ExprArray { elems, .. }) => {
            let mut names = Vec::new();
            for e in elems {
                match e {
                    Expr::Lit(l) => match &l.lit {
                        Lit::Str(s) => names.push((s.value(), s.span())),
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "expected a field name string",
                            ))
                        }
                    },
                    other => {
                        return Err(syn::Error::new(
                            other.span(),
                            "expected a field name string",
                        ))
                    }
                }
            }
            if names.is_empty() {
                return Err(syn::Error::new(
                    expr.span(),
                    "a key needs at least one field",
                ));
            }
            Ok(NameList { names })
        }
        other => Err(syn::Error::new(
            other.span(),
            "expected a field name (\"a\") or a list of them ([\"a\", \"b\"])",
        )),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, span: Span, what: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(span, format!("{what} is given twice")));
    }
    *slot = Some(value);
    Ok(())
}

pub fn container(attrs: &[Attribute]) -> syn::Result<ContainerAttrs> {
    let mut out = ContainerAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("bao") {
            attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                if meta.path.is_ident("prefix") {
                    let s: LitStr = meta.value()?.parse()?;
                    set_once(&mut out.prefix, s, span, "prefix")
                } else if meta.path.is_ident("global") {
                    out.global = true;
                    Ok(())
                } else if meta.path.is_ident("patch") {
                    out.patch = true;
                    Ok(())
                } else if meta.path.is_ident("new") {
                    out.new = true;
                    Ok(())
                } else if meta.path.is_ident("pk") {
                    let e: Expr = meta.value()?.parse()?;
                    set_once(&mut out.pk, name_list(&e)?, span, "pk")
                } else if meta.path.is_ident("sk") {
                    let e: Expr = meta.value()?.parse()?;
                    set_once(&mut out.sk, name_list(&e)?, span, "sk")
                } else if meta.path.is_ident("index") {
                    let mut name = None;
                    let mut gsi: Option<LitInt> = None;
                    let mut pk = None;
                    let mut sk = None;
                    // `index(by_x(gsi = 1, pk = "x"))`, named by the list it is written in, or
                    // `index(name = "by_x", gsi = 1, pk = "x")`. The first keeps clippy's
                    // duplicated_attributes quiet in the user's crate: it compares a nested key
                    // by the lists around it, so `gsi = 1` and `sk = "at"` in two indexes look
                    // repeated unless each index is a list of its own name.
                    let mut option = |inner: syn::meta::ParseNestedMeta<'_>, named: bool| {
                        let ispan = inner.path.span();
                        if inner.path.is_ident("name") && !named {
                            let s: LitStr = inner.value()?.parse()?;
                            set_once(&mut name, s, ispan, "name")
                        } else if inner.path.is_ident("gsi") {
                            let n: LitInt = inner.value()?.parse()?;
                            set_once(&mut gsi, n, ispan, "gsi")
                        } else if inner.path.is_ident("pk") {
                            let e: Expr = inner.value()?.parse()?;
                            set_once(&mut pk, name_list(&e)?, ispan, "pk")
                        } else if inner.path.is_ident("sk") {
                            let e: Expr = inner.value()?.parse()?;
                            set_once(&mut sk, name_list(&e)?, ispan, "sk")
                        } else {
                            Err(inner.error("unknown index option; expected gsi, pk or sk"))
                        }
                    };
                    let mut named: Option<LitStr> = None;
                    meta.parse_nested_meta(|inner| {
                        let listed = inner.input.peek(syn::token::Paren);
                        match inner.path.get_ident() {
                            Some(ident) if listed && named.is_none() => {
                                named = Some(LitStr::new(&ident.to_string(), ident.span()));
                                inner.parse_nested_meta(|o| option(o, true))
                            }
                            _ if listed => Err(inner.error(
                                "one index per index(..): write index(a(..)), index(b(..))",
                            )),
                            _ => option(inner, false),
                        }
                    })?;
                    if let Some(n) = named {
                        set_once(&mut name, n, span, "name")?;
                    }
                    let name = name.ok_or_else(|| {
                        syn::Error::new(
                            span,
                            "index needs a name: index(by_x(gsi = 1, pk = \"x\"))",
                        )
                    })?;
                    let gsi =
                        gsi.ok_or_else(|| syn::Error::new(span, "index needs gsi = 1..=5"))?;
                    let gsi_value: u8 = gsi.base10_parse().unwrap_or(0);
                    if !(1..=5).contains(&gsi_value) {
                        return Err(syn::Error::new(gsi.span(), "gsi must be 1, 2, 3, 4 or 5"));
                    }
                    let pk =
                        pk.ok_or_else(|| syn::Error::new(span, "index needs pk = \"field\""))?;
                    out.indexes.push(IndexAttr {
                        name,
                        gsi,
                        gsi_value,
                        pk,
                        sk,
                        span,
                    });
                    Ok(())
                } else if meta.path.is_ident("iterable") {
                    let mut gsi: Option<LitInt> = None;
                    let mut buckets: Option<LitInt> = None;
                    meta.parse_nested_meta(|inner| {
                        let ispan = inner.path.span();
                        if inner.path.is_ident("gsi") {
                            let n: LitInt = inner.value()?.parse()?;
                            set_once(&mut gsi, n, ispan, "gsi")
                        } else if inner.path.is_ident("buckets") {
                            let n: LitInt = inner.value()?.parse()?;
                            set_once(&mut buckets, n, ispan, "buckets")
                        } else {
                            Err(inner.error("unknown iterable option; expected gsi or buckets"))
                        }
                    })?;
                    let gsi =
                        gsi.ok_or_else(|| syn::Error::new(span, "iterable needs gsi = 1..=5"))?;
                    let gsi_value: u8 = gsi.base10_parse().unwrap_or(0);
                    if !(1..=5).contains(&gsi_value) {
                        return Err(syn::Error::new(gsi.span(), "gsi must be 1, 2, 3, 4 or 5"));
                    }
                    let buckets = match buckets {
                        Some(b) => {
                            let n: u16 = b.base10_parse().unwrap_or(0);
                            if !(1..=1000).contains(&n) {
                                return Err(syn::Error::new(b.span(), "buckets must be 1 to 1000"));
                            }
                            n
                        }
                        None => 8,
                    };
                    set_once(
                        &mut out.iterable,
                        IterableAttr {
                            gsi,
                            gsi_value,
                            buckets,
                        },
                        span,
                        "iterable",
                    )
                } else if meta.path.is_ident("unique") {
                    out.uniques.push(crate::unique::parse(&meta)?);
                    Ok(())
                } else {
                    Err(meta.error(
                        "unknown model option; expected prefix, global, pk, sk, index, iterable, unique, patch or new",
                    ))
                }
            })?;
        } else if attr.path().is_ident("serde") {
            // Only rename_all and tag matter here; serde itself reports everything else.
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename_all") {
                    // `rename_all = ".."`, or `rename_all(serialize = "..", ..)`: the stored
                    // names are the serialized ones.
                    if let Some(s) = serde_name(&meta, "serialize")? {
                        out.rename_all = Some(s);
                    }
                } else if meta.path.is_ident("tag") {
                    if let Ok(v) = meta.value() {
                        if let Ok(s) = v.parse::<LitStr>() {
                            out.tag = Some(s);
                        }
                    }
                } else if let Ok(v) = meta.value() {
                    let _: Expr = v.parse()?;
                }
                Ok(())
            });
        }
    }
    Ok(out)
}

pub fn field(attrs: &[Attribute]) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in attrs {
        if attr.path().is_ident("bao") {
            attr.parse_nested_meta(|meta| {
                let span = meta.path.span();
                let slot = if meta.path.is_ident("pk") {
                    &mut out.pk
                } else if meta.path.is_ident("sk") {
                    &mut out.sk
                } else if meta.path.is_ident("auto") {
                    &mut out.auto
                } else if meta.path.is_ident("created_at") {
                    &mut out.created_at
                } else if meta.path.is_ident("updated_at") {
                    &mut out.updated_at
                } else if meta.path.is_ident("version") {
                    &mut out.version
                } else if meta.path.is_ident("ttl") {
                    &mut out.ttl
                } else {
                    return Err(meta.error(
                        "unknown field option; expected pk, sk, auto, created_at, updated_at, version or ttl",
                    ));
                };
                set_once(slot, span, span, "this option")
            })?;
        } else if attr.path().is_ident("serde") {
            let _ = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    if meta.input.peek(syn::token::Paren) {
                        // rename(serialize = "..", deserialize = ".."): both are names of the
                        // field; the serialized one is what is stored.
                        meta.parse_nested_meta(|inner| {
                            let s: LitStr = inner.value()?.parse()?;
                            out.serde_names.push((s.value(), s.span()));
                            if inner.path.is_ident("serialize") {
                                out.rename = Some(s.value());
                            }
                            Ok(())
                        })?;
                    } else if let Ok(v) = meta.value() {
                        if let Ok(s) = v.parse::<LitStr>() {
                            out.serde_names.push((s.value(), s.span()));
                            out.rename = Some(s.value());
                        }
                    }
                } else if meta.path.is_ident("alias") {
                    if let Ok(v) = meta.value() {
                        if let Ok(s) = v.parse::<LitStr>() {
                            out.serde_names.push((s.value(), s.span()));
                        }
                    }
                } else if meta.path.is_ident("flatten")
                    || meta.path.is_ident("skip")
                    || meta.path.is_ident("skip_serializing")
                {
                    out.skipped = Some(meta.path.span());
                } else if let Ok(v) = meta.value() {
                    let _: Expr = v.parse()?;
                }
                Ok(())
            });
        }
    }
    Ok(out)
}

/// The string of `name = ".."`, or of `name(side = "..", ..)` for the given side.
fn serde_name(meta: &syn::meta::ParseNestedMeta<'_>, side: &str) -> syn::Result<Option<LitStr>> {
    if meta.input.peek(syn::token::Paren) {
        let mut found = None;
        meta.parse_nested_meta(|inner| {
            let s: LitStr = inner.value()?.parse()?;
            if inner.path.is_ident(side) {
                found = Some(s);
            }
            Ok(())
        })?;
        Ok(found)
    } else {
        Ok(meta.value().ok().and_then(|v| v.parse::<LitStr>().ok()))
    }
}

/// Applies a serde `rename_all` rule to a snake_case field name.
pub fn rename_all(rule: &str, field: &str) -> Option<String> {
    let words: Vec<&str> = field.split('_').filter(|w| !w.is_empty()).collect();
    let cap = |w: &str| {
        let mut c = w.chars();
        c.next()
            .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
            .unwrap_or_default()
    };
    Some(match rule {
        "lowercase" => field.to_lowercase(),
        "UPPERCASE" => field.to_uppercase(),
        "snake_case" => field.to_owned(),
        "SCREAMING_SNAKE_CASE" => field.to_uppercase(),
        "kebab-case" => field.replace('_', "-"),
        "SCREAMING-KEBAB-CASE" => field.to_uppercase().replace('_', "-"),
        "PascalCase" => words.iter().map(|w| cap(w)).collect(),
        "camelCase" => words
            .iter()
            .enumerate()
            .map(|(i, w)| if i == 0 { w.to_string() } else { cap(w) })
            .collect(),
        _ => return None,
    })
}
