// Package conf loads and validates the econe-server configuration.
//
// A configuration is built in three steps: Default() values first, then the
// YAML file decoded over them (strictly: unknown keys and wrongly typed values
// are errors), then Validate(). Every problem is reported at once, each named
// by its key path and, when loaded from a file, its line:
//
//	econe.yaml:12: backend.sim.boot_delay: invalid duration "fast"
//
// Relative paths in the configuration (data_dir, tls files, scripts, ...) are
// relative to the server's working directory, not to the configuration file.
//
// econe.example.yaml at the repository root documents every option with its
// default; tests keep it in sync with Default().
package conf
