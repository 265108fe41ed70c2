// The one C entry point for libyaml (Debian libyaml-dev). Only Config imports it; Package.swift links
// libyaml.a.
#include <yaml.h>
