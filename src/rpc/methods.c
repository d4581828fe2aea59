/* The methods that the servers register, by service. */
#include "rpc_int.h"

const struct rpc_method rpc_methods[] = {
	{ "/hsmjwt.v1.TokenService/Sign", "Sign", RPC_SERVICE_TOKEN,
	  token_service_sign, 8 },
	{ "/hsmjwt.v1.TokenService/Verify", "Verify", RPC_SERVICE_TOKEN,
	  token_service_verify, 4 },
	{ "/hsmjwt.v1.TokenService/Decrypt", "Decrypt", RPC_SERVICE_TOKEN,
	  token_service_decrypt, 2 },
	{ "/hsmjwt.v1.TokenService/GetJwks", "GetJwks", RPC_SERVICE_TOKEN,
	  token_service_get_jwks, 2 },
	{ "/grpc.health.v1.Health/Check", "Health.Check", RPC_SERVICE_HEALTH,
	  health_check, 2 },
	{ "/hsmjwt.v1.KeyAdmin/ListKeys", "ListKeys", RPC_SERVICE_ADMIN,
	  key_admin_list, 1 },
	{ "/hsmjwt.v1.KeyAdmin/GenerateKey", "GenerateKey", RPC_SERVICE_ADMIN,
	  key_admin_generate, 1 },
	{ "/hsmjwt.v1.KeyAdmin/RotateKey", "RotateKey", RPC_SERVICE_ADMIN,
	  key_admin_rotate, 1 },
	{ "/hsmjwt.v1.KeyAdmin/RetireKey", "RetireKey", RPC_SERVICE_ADMIN,
	  key_admin_retire, 1 },
	{ "/hsmjwt.v1.KeyAdmin/DestroyKey", "DestroyKey", RPC_SERVICE_ADMIN,
	  key_admin_destroy, 1 },
};
const size_t rpc_method_count = sizeof(rpc_methods) / sizeof(rpc_methods[0]);
