export { AppConfig, CONFIG_VARIABLES, NODE_ENVS, SCRIPT_VARIABLES, SECRET_VARIABLES, partnerEnvironment, type NodeEnv } from './config.schema.js';
export { ConfigError, internalDatabaseUrl, internalRolePassword, INTERNAL_ROLE, loadConfig, ownerDatabaseUrl, runtimeDatabaseUrl, runtimeRolePassword, RUNTIME_ROLE } from './load-config.js';
export { ConfigModule } from './config.module.js';
export { dataEncryptionKeys, ENV_KEY_FAMILIES, rotatedKeyringValue, type EnvKeyFamily, derivedKey, DERIVED_KID, DEV_INTERNAL_SERVICE, internalServiceKeys, jobSigningKeys, keyRingRootKeys, tokenPepper, type Keyring, type ServiceKey, KEY_AGE_POLICIES, keyMaxAgeS, kidDate, type KeyAgeFamily } from './keyrings.js';
export { defaultSecretSources, EnvironmentSecretSource, FileSecretSource, resolveSecret, SECRET_FILE_MAX_BYTES, SecretSourceError, type SecretSource, type SecretValue } from './secret-source.js';
