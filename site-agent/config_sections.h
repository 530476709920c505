#ifndef CLS_SITE_AGENT_CONFIG_SECTIONS_H_
#define CLS_SITE_AGENT_CONFIG_SECTIONS_H_

// The optional sections of the site agent's config ([online], [serve],
// [secure_aggregation], [privacy]), read by site-agent/config.cc. Internal to
// it.

#include <toml++/toml.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "site-agent/config.h"

namespace cls::site::config_internal {

// A relative path resolved against the config file's folder.
std::string ResolvePath(const std::filesystem::path& base_dir,
                        const std::string& value);

// Each needs config.data_dir, config.tls and (for [serve]) config.data set.
Status ParseOnline(const toml::table& table,
                   const std::filesystem::path& base_dir, AgentConfig& config);
Status ParseServe(const toml::table& table,
                  const std::filesystem::path& base_dir, AgentConfig& config);
Status ParseSecureAggregation(const toml::table& table, AgentConfig& config);
Status ParsePrivacy(const toml::table& table, AgentConfig& config);

}  // namespace cls::site::config_internal

#endif  // CLS_SITE_AGENT_CONFIG_SECTIONS_H_
