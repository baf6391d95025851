use dynabao::KeyPart;

#[derive(KeyPart)]
struct Pair(String, String);

#[derive(KeyPart)]
#[bao(auto)]
enum Kind {
    A,
}

#[derive(KeyPart)]
#[bao(sorted)]
struct Id(String);

fn main() {}
