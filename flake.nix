{
  description = "effect-codex: an Effect 4 SDK for OpenAI's codex app-server";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [ pkgs.nodejs_24 pkgs.git ];
          shellHook = ''
            echo "effect-codex dev shell (node $(node --version))"
            echo "  npm ci     # install dependencies"
            echo "  npm test   # run the tests"
          '';
        };
      });
    };
}
