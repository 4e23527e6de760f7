import BifocalCore
import BifocalGateway
import Testing
