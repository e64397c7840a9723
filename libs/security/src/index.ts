export { clientIp, trustProxyOption } from './client-ip.js';
export {
  LoginThrottle,
  REFRESH_MAX_FAILURES_PER_IP,
  THROTTLE_KEY_PREFIX,
  type RefreshThrottleDecision,
  type ThrottleDecision,
  type ThrottleKey,
} from './login-throttle.js';
export { SecurityModule } from './security.module.js';
